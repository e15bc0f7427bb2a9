//! `$avp(name)`: attribute-value pairs bound to one message.
//!
//! As in Kamailio, a name holds a stack of values: an assignment pushes a
//! new value on top, a read sees the top one, `$(avp(name)[i])` the i-th
//! from the top (negative from the bottom), and assigning null removes the
//! top value. Names compare case-insensitively. The list lives with the
//! message state on the context, so a transaction can carry it into later
//! routes.

use super::PvValue;

/// The AVPs of one message, most recent last.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Avps {
    items: Vec<(Box<str>, PvValue)>,
}

impl Avps {
    /// The value of `name` `n` places below the top.
    fn nth(&self, name: &str, n: usize) -> Option<&PvValue> {
        self.items
            .iter()
            .rev()
            .filter(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
            .nth(n)
    }

    /// The top value of `name`.
    pub fn get(&self, name: &str) -> Option<&PvValue> {
        self.nth(name, 0)
    }

    /// The value at `index`: 0 is the most recent, -1 the oldest.
    pub fn get_at(&self, name: &str, index: i32) -> Option<&PvValue> {
        if index >= 0 {
            self.nth(name, usize::try_from(index).ok()?)
        } else {
            let from_oldest = usize::try_from(index.unsigned_abs()).ok()?;
            let n = self.count(name).checked_sub(from_oldest)?;
            self.nth(name, n)
        }
    }

    /// Every value of `name`, most recent first.
    pub fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a PvValue> + 'a {
        self.items
            .iter()
            .rev()
            .filter(move |(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    }

    /// How many values `name` has.
    pub fn count(&self, name: &str) -> usize {
        self.items
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case(name))
            .count()
    }

    /// Pushes a value on top of `name` (a null value is not stored).
    pub fn push(&mut self, name: &str, value: PvValue) {
        if value != PvValue::Null {
            self.items.push((name.into(), value));
        }
    }

    /// Removes the top value of `name`; whether there was one.
    pub fn remove_top(&mut self, name: &str) -> bool {
        match self
            .items
            .iter()
            .rposition(|(n, _)| n.eq_ignore_ascii_case(name))
        {
            Some(i) => {
                self.items.remove(i);
                true
            }
            None => false,
        }
    }

    /// Removes every value of `name`; how many.
    pub fn remove_all(&mut self, name: &str) -> usize {
        let before = self.items.len();
        self.items.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        before - self.items.len()
    }

    /// Whether no AVP is set.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Removes every AVP.
    pub fn clear(&mut self) {
        self.items.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &str) -> PvValue {
        PvValue::Str(v.into())
    }

    #[test]
    fn values_stack_per_name() {
        let mut a = Avps::default();
        assert_eq!(a.get("x"), None);
        a.push("x", s("one"));
        a.push("y", PvValue::Int(9));
        a.push("X", PvValue::Int(2));
        assert_eq!(a.get("x"), Some(&PvValue::Int(2)), "names ignore case");
        assert_eq!(a.get_at("x", 1), Some(&s("one")));
        assert_eq!(a.get_at("x", -1), Some(&s("one")));
        assert_eq!(a.get_at("x", -2), Some(&PvValue::Int(2)));
        assert_eq!(a.get_at("x", 2), None);
        assert_eq!(a.get_at("x", -3), None);
        assert_eq!(a.count("x"), 2);
        assert_eq!(
            a.all("x").cloned().collect::<Vec<_>>(),
            vec![PvValue::Int(2), s("one")]
        );
        assert!(a.remove_top("x"));
        assert_eq!(a.get("x"), Some(&s("one")));
        a.push("x", PvValue::Null);
        assert_eq!(a.count("x"), 1, "null is never stored");
        assert_eq!(a.remove_all("x"), 1);
        assert!(!a.remove_top("x"));
        assert_eq!(a.get("y"), Some(&PvValue::Int(9)));
        a.clear();
        assert!(a.is_empty());
    }
}
