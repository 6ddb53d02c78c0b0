//! [`IdIndex`]: a hash index from an id to a position in a vector that already holds the ids.
//!
//! A `HashMap<Id, u32>` stores a second copy of every key (a 16-byte `Arc<str>` handle, 24
//! bytes per entry with the position) and, at 100,000 entries, 131,072 buckets of them: ~33
//! bytes per entry. This index stores only the 4-byte position and compares a probed key
//! with the id found at that position, ~7 bytes per entry. The vector is the single owner of
//! the ids; every method takes a `key_of` function that reads the id at a position.

use std::hash::{BuildHasher, RandomState};

use hashbrown::HashTable;

/// Positions in a vector, found by the id stored at that position.
#[derive(Debug, Clone, Default)]
pub struct IdIndex {
    table: HashTable<u32>,
    hasher: RandomState,
}

impl IdIndex {
    /// An empty index.
    pub fn new() -> IdIndex {
        IdIndex::default()
    }

    /// Number of ids indexed.
    pub fn len(&self) -> usize {
        self.table.len()
    }

    pub fn is_empty(&self) -> bool {
        self.table.is_empty()
    }

    /// The position of `id`, if indexed. `key_of(position)` is the id at a position.
    pub fn get<'a>(&self, id: &str, key_of: impl Fn(u32) -> Option<&'a str>) -> Option<u32> {
        let hash = self.hasher.hash_one(id);
        self.table.find(hash, |&at| key_of(at) == Some(id)).copied()
    }

    /// Indexes `id` at position `at` (the id `key_of(at)` returns); an id already indexed now
    /// points at `at` (a later registration wins, as with a map insert).
    pub fn insert<'a>(&mut self, id: &str, at: u32, key_of: impl Fn(u32) -> Option<&'a str>) {
        let hasher = &self.hasher;
        let hash = hasher.hash_one(id);
        match self.table.entry(
            hash,
            |&p| key_of(p) == Some(id),
            |&p| hasher.hash_one(key_of(p).unwrap_or_default()),
        ) {
            hashbrown::hash_table::Entry::Occupied(mut e) => *e.get_mut() = at,
            hashbrown::hash_table::Entry::Vacant(e) => {
                e.insert(at);
            }
        }
    }

    /// Releases the growth slack once loading is done.
    pub fn shrink_to_fit<'a>(&mut self, key_of: impl Fn(u32) -> Option<&'a str>) {
        let hasher = &self.hasher;
        self.table
            .shrink_to_fit(|&p| hasher.hash_one(key_of(p).unwrap_or_default()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_ids_by_the_vector_and_a_later_insert_wins() {
        let ids = ["a", "b", "c", "b"];
        let key = |p: u32| ids.get(p as usize).copied();
        let mut index = IdIndex::new();
        for (i, id) in ids.iter().enumerate() {
            index.insert(id, i as u32, key);
        }
        index.shrink_to_fit(key);
        assert_eq!(index.len(), 3);
        assert_eq!(index.get("a", key), Some(0));
        assert_eq!(index.get("b", key), Some(3));
        assert_eq!(index.get("c", key), Some(2));
        assert_eq!(index.get("d", key), None);
    }
}
