//! `$shv(name)`: variables shared by every worker of the process.
//!
//! Workers are threads, so the values live in one process-wide map. It is
//! split into shards, each behind its own `RwLock`, so that workers reading
//! and writing different names rarely wait on each other. As in Kamailio,
//! a `$shv` is never null: one never set, or set to null, reads as 0.

use std::collections::hash_map::DefaultHasher;
use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::{OnceLock, PoisonError, RwLock};

use super::PvValue;

const SHARDS: usize = 16;

/// A sharded map of named values shared between threads.
#[derive(Debug)]
pub struct SharedVars {
    shards: [RwLock<HashMap<Box<str>, PvValue>>; SHARDS],
}

impl Default for SharedVars {
    fn default() -> Self {
        SharedVars {
            shards: std::array::from_fn(|_| RwLock::new(HashMap::new())),
        }
    }
}

impl SharedVars {
    /// The variables of this process (`$shv`).
    pub fn global() -> &'static SharedVars {
        static GLOBAL: OnceLock<SharedVars> = OnceLock::new();
        GLOBAL.get_or_init(SharedVars::default)
    }

    fn shard(&self, name: &str) -> &RwLock<HashMap<Box<str>, PvValue>> {
        let mut h = DefaultHasher::new();
        name.hash(&mut h);
        // The remainder is below SHARDS, so the cast cannot truncate.
        &self.shards[(h.finish() % SHARDS as u64) as usize]
    }

    /// The value of `name`; 0 when it was never set.
    pub fn get(&self, name: &str) -> PvValue {
        // A panic while holding the lock cannot leave a value half written
        // (values are replaced whole), so a poisoned lock is still usable.
        let map = self
            .shard(name)
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        map.get(name).cloned().unwrap_or(PvValue::Int(0))
    }

    /// Sets `name`; null stores 0.
    pub fn set(&self, name: &str, value: PvValue) {
        let value = match value {
            PvValue::Null => PvValue::Int(0),
            v => v,
        };
        let mut map = self
            .shard(name)
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        match map.get_mut(name) {
            Some(slot) => *slot = value,
            None => {
                map.insert(name.into(), value);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_shared_between_threads() {
        let vars = SharedVars::default();
        assert_eq!(vars.get("n"), PvValue::Int(0));
        std::thread::scope(|s| {
            for i in 0..4 {
                let vars = &vars;
                s.spawn(move || vars.set(&format!("t{i}"), PvValue::Int(i)));
            }
        });
        for i in 0..4 {
            assert_eq!(vars.get(&format!("t{i}")), PvValue::Int(i));
        }
        vars.set("n", PvValue::Str("x".into()));
        assert_eq!(vars.get("n"), PvValue::Str("x".into()));
        vars.set("n", PvValue::Null);
        assert_eq!(vars.get("n"), PvValue::Int(0));
    }
}
