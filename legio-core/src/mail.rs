//! Mail logic independent of storage: group addresses, reply addressing, injection text.
//! (Being written.)
