//! The memory location store (`db_mode` 0): AoRs hashed into slots, each
//! slot a mutex-protected map, so registrations of different users rarely
//! wait for each other.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use super::{Contact, LocationStore};

/// The AoRs of one slot. foldhash is several times faster than the
/// default SipHash on short keys and is seeded per map, so AoRs chosen by
/// a peer still cannot be aimed at one bucket.
type Slot = HashMap<String, Vec<Contact>, foldhash::fast::RandomState>;

/// A location table in memory.
pub struct MemoryStore {
    name: String,
    slots: Box<[Mutex<Slot>]>,
    desc_time_order: bool,
}

/// The 32-bit hash of an AoR (FNV-1a), which picks its slot; `ul.dump`
/// shows it as `HashID`.
pub fn aor_hash(aor: &str) -> u32 {
    aor.bytes().fold(0x811c_9dc5u32, |h, b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    })
}

/// Orders contacts best first: higher q first (unspecified counts below
/// 0), then newest first when `desc_time_order`, else as they were.
pub fn sort_contacts(contacts: &mut [Contact], desc_time_order: bool) {
    let q = |c: &Contact| c.q.map_or(-1, i32::from);
    if desc_time_order {
        contacts.sort_by(|a, b| q(b).cmp(&q(a)).then(b.last_modified.cmp(&a.last_modified)));
    } else {
        contacts.sort_by_key(|c| std::cmp::Reverse(q(c)));
    }
}

impl MemoryStore {
    /// An empty table with `slots` slots (rounded up to a power of two).
    pub fn new(name: &str, slots: usize, desc_time_order: bool) -> MemoryStore {
        let n = slots.max(1).next_power_of_two();
        MemoryStore {
            name: name.to_owned(),
            slots: (0..n).map(|_| Mutex::new(Slot::default())).collect(),
            desc_time_order,
        }
    }

    fn slot(&self, aor: &str) -> MutexGuard<'_, Slot> {
        let i = aor_hash(aor) as usize & (self.slots.len() - 1);
        // A panic while a slot was held leaves consistent data behind (each
        // change replaces a whole list), so a poisoned lock is still used.
        self.slots[i].lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl LocationStore for MemoryStore {
    fn name(&self) -> &str {
        &self.name
    }

    fn lookup(&self, aor: &str, now: u64) -> Vec<Contact> {
        let slot = self.slot(aor);
        slot.get(aor).map_or_else(Vec::new, |cs| {
            cs.iter().filter(|c| c.is_valid(now)).cloned().collect()
        })
    }

    fn modify(&self, aor: &str, now: u64, edit: &mut dyn FnMut(&mut Vec<Contact>)) {
        let mut slot = self.slot(aor);
        // Changed in place: a refresh neither rehashes nor copies the key.
        if let Some(contacts) = slot.get_mut(aor) {
            contacts.retain(|c| c.is_valid(now));
            edit(contacts);
            if contacts.is_empty() {
                slot.remove(aor);
            } else {
                sort_contacts(contacts, self.desc_time_order);
            }
            return;
        }
        let mut contacts = Vec::new();
        edit(&mut contacts);
        if !contacts.is_empty() {
            sort_contacts(&mut contacts, self.desc_time_order);
            slot.insert(aor.to_owned(), contacts);
        }
    }

    fn remove_aor(&self, aor: &str) -> usize {
        self.slot(aor).remove(aor).map_or(0, |c| c.len())
    }

    fn remove_ruid(&self, aor: Option<&str>, ruid: &str) -> Option<String> {
        let take = |slot: &mut Slot, key: &str| -> bool {
            let Some(cs) = slot.get_mut(key) else {
                return false;
            };
            let before = cs.len();
            cs.retain(|c| c.ruid != ruid);
            let removed = cs.len() < before;
            if cs.is_empty() {
                slot.remove(key);
            }
            removed
        };
        if let Some(aor) = aor {
            let mut slot = self.slot(aor);
            return take(&mut slot, aor).then(|| aor.to_owned());
        }
        for s in self.slots.iter() {
            let mut slot = s.lock().unwrap_or_else(|p| p.into_inner());
            let key = slot
                .iter()
                .find(|(_, cs)| cs.iter().any(|c| c.ruid == ruid))
                .map(|(k, _)| k.clone());
            if let Some(key) = key {
                take(&mut slot, &key);
                return Some(key);
            }
        }
        None
    }

    fn expire(&self, now: u64) -> usize {
        let mut removed = 0;
        for s in self.slots.iter() {
            let mut slot = s.lock().unwrap_or_else(|p| p.into_inner());
            slot.retain(|_, cs| {
                let before = cs.len();
                cs.retain(|c| c.is_valid(now));
                removed += before - cs.len();
                !cs.is_empty()
            });
            // Give memory back after a burst of registrations went away.
            if slot.capacity() > 64 && slot.len() < slot.capacity() / 4 {
                slot.shrink_to_fit();
            }
        }
        removed
    }

    fn for_each(&self, f: &mut dyn FnMut(&str, &[Contact])) {
        for s in self.slots.iter() {
            // Copy the slot out so `f` (which may be slow: it builds RPC
            // answers) never runs under the lock.
            let entries: Vec<(String, Vec<Contact>)> = {
                let slot = s.lock().unwrap_or_else(|p| p.into_inner());
                slot.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
            };
            for (aor, cs) in &entries {
                f(aor, cs);
            }
        }
    }

    fn counts(&self) -> (usize, usize) {
        self.slots.iter().fold((0, 0), |(r, c), s| {
            let slot = s.lock().unwrap_or_else(|p| p.into_inner());
            (
                r + slot.len(),
                c + slot.values().map(Vec::len).sum::<usize>(),
            )
        })
    }

    fn slots(&self) -> usize {
        self.slots.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(uri: &str, expires: u64, q: Option<u16>, modified: u64) -> Contact {
        Contact {
            uri: uri.into(),
            expires,
            q,
            ruid: format!("r-{uri}"),
            last_modified: modified,
            ..Contact::default()
        }
    }

    fn uris(cs: &[Contact]) -> Vec<&str> {
        cs.iter().map(|c| c.uri.as_str()).collect()
    }

    #[test]
    fn contacts_are_kept_best_first() {
        let s = MemoryStore::new("location", 4, false);
        s.modify("alice", 10, &mut |cs| {
            cs.push(c("sip:low", 100, Some(100), 1));
            cs.push(c("sip:none", 100, None, 2));
            cs.push(c("sip:high", 100, Some(900), 3));
            cs.push(c("sip:low2", 100, Some(100), 4));
        });
        assert_eq!(
            uris(&s.lookup("alice", 10)),
            ["sip:high", "sip:low", "sip:low2", "sip:none"]
        );
        let d = MemoryStore::new("location", 4, true);
        d.modify("alice", 10, &mut |cs| {
            cs.push(c("sip:old", 100, Some(500), 1));
            cs.push(c("sip:new", 100, Some(500), 2));
        });
        assert_eq!(uris(&d.lookup("alice", 10)), ["sip:new", "sip:old"]);
    }

    #[test]
    fn expired_contacts_are_invisible_then_freed() {
        let s = MemoryStore::new("location", 2, false);
        s.modify("bob", 10, &mut |cs| {
            cs.push(c("sip:short", 20, None, 10));
            cs.push(c("sip:perm", 0, None, 10));
        });
        s.modify("carol", 10, &mut |cs| cs.push(c("sip:c", 15, None, 10)));
        assert_eq!(uris(&s.lookup("bob", 25)), ["sip:perm"]);
        assert_eq!(s.counts(), (2, 3), "not freed before the timer");
        assert_eq!(s.expire(25), 2);
        assert_eq!(s.counts(), (1, 1), "empty AoRs go away");
        let mut seen = Vec::new();
        s.for_each(&mut |aor, cs| seen.push((aor.to_owned(), cs.len())));
        assert_eq!(seen, [("bob".to_owned(), 1)]);
    }

    #[test]
    fn modify_sees_only_valid_contacts_and_removes_empty_aors() {
        let s = MemoryStore::new("location", 8, false);
        s.modify("dave", 10, &mut |cs| cs.push(c("sip:d", 20, None, 10)));
        let mut seen = usize::MAX;
        s.modify("dave", 30, &mut |cs| seen = cs.len());
        assert_eq!(seen, 0);
        assert_eq!(s.counts(), (0, 0));
    }

    #[test]
    fn removal_by_aor_and_ruid() {
        let s = MemoryStore::new("location", 8, false);
        s.modify("erin", 0, &mut |cs| {
            cs.push(c("sip:e1", 0, None, 0));
            cs.push(c("sip:e2", 0, None, 0));
        });
        s.modify("fred", 0, &mut |cs| cs.push(c("sip:f", 0, None, 0)));
        assert_eq!(s.remove_ruid(Some("erin"), "r-sip:f"), None);
        assert_eq!(s.remove_ruid(Some("erin"), "r-sip:e1"), Some("erin".into()));
        assert_eq!(s.remove_ruid(None, "r-sip:f"), Some("fred".into()));
        assert_eq!(s.remove_ruid(None, "r-nothing"), None);
        assert_eq!(s.remove_aor("erin"), 1);
        assert_eq!(s.remove_aor("erin"), 0);
        assert_eq!(s.counts(), (0, 0));
    }

    #[test]
    fn memory_is_bounded_under_churn() {
        let s = MemoryStore::new("location", 16, false);
        for round in 0..20u64 {
            for i in 0..500 {
                let now = round * 10;
                s.modify(&format!("user{round}-{i}"), now, &mut |cs| {
                    cs.push(c(&format!("sip:{i}"), now + 5, None, now))
                });
            }
            s.expire(round * 10 + 6);
            assert_eq!(s.counts(), (0, 0));
        }
        let held: usize = s
            .slots
            .iter()
            .map(|m| m.lock().map_or(0, |m| m.capacity()))
            .sum();
        assert!(held < 2000, "capacity {held} after churn");
    }

    #[test]
    fn hash_is_stable() {
        assert_eq!(aor_hash(""), 0x811c_9dc5);
        assert_eq!(aor_hash("alice"), aor_hash("alice"));
        assert_ne!(aor_hash("alice"), aor_hash("bob"));
    }
}
