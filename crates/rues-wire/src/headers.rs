//! [`Headers`]: the ordered name/value pairs of a frame's header block.

use std::fmt;

/// The headers of a frame: ordered `(name, value)` pairs.
///
/// Lookups compare names ASCII case-insensitively, as HTTP does, and a name
/// appears at most once in that sense. Order is kept, so a frame encodes its
/// headers in the order they were inserted (or decoded).
///
/// Equality compares the pairs in order with names spelled exactly, so a
/// frame that round-trips through [`Frame::encode`](crate::Frame::encode) and
/// [`Frame::decode`](crate::Frame::decode) compares equal to itself.
///
/// ```
/// use rues_wire::Headers;
///
/// let mut headers = Headers::new();
/// headers.insert("Content-Type", "application/json");
/// headers.insert("Rusk-Origin", "0200");
/// headers.insert("content-type", "text/plain"); // replaces, keeps the position
///
/// assert_eq!(headers.get("CONTENT-TYPE"), Some("text/plain"));
/// assert_eq!(
///     headers.iter().collect::<Vec<_>>(),
///     [("content-type", "text/plain"), ("Rusk-Origin", "0200")],
/// );
/// ```
#[derive(Clone, Default, PartialEq, Eq, Hash)]
pub struct Headers {
    entries: Vec<(String, String)>,
}

impl Headers {
    /// No headers.
    pub fn new() -> Self {
        Self::default()
    }

    /// The value of the header `name`, compared ASCII case-insensitively.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.position(name)
            .map(|index| self.entries[index].1.as_str())
    }

    /// Whether a header `name` is present, compared ASCII case-insensitively.
    pub fn contains(&self, name: &str) -> bool {
        self.position(name).is_some()
    }

    /// Sets the header `name` to `value`.
    ///
    /// An existing header of the same name (ASCII case-insensitively) is
    /// replaced in place, taking the new spelling of the name; otherwise the
    /// header is appended.
    pub fn insert(&mut self, name: impl Into<String>, value: impl Into<String>) {
        let name = name.into();
        let value = value.into();
        match self.position(&name) {
            Some(index) => self.entries[index] = (name, value),
            None => self.entries.push((name, value)),
        }
    }

    /// Removes the header `name` (ASCII case-insensitively) and returns its value.
    pub fn remove(&mut self, name: &str) -> Option<String> {
        self.position(name)
            .map(|index| self.entries.remove(index).1)
    }

    /// The headers as `(name, value)` pairs, in order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (&str, &str)> + '_ {
        self.entries
            .iter()
            .map(|(name, value)| (name.as_str(), value.as_str()))
    }

    /// The number of headers.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are no headers.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Wraps pairs already known to have distinct names (the decoder checks).
    pub(crate) fn from_distinct(entries: Vec<(String, String)>) -> Self {
        Self { entries }
    }

    fn position(&self, name: &str) -> Option<usize> {
        self.entries
            .iter()
            .position(|(existing, _)| existing.eq_ignore_ascii_case(name))
    }
}

impl fmt::Debug for Headers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

/// Collects pairs with [`Headers::insert`], so a later pair replaces an
/// earlier one of the same name.
impl<N: Into<String>, V: Into<String>> FromIterator<(N, V)> for Headers {
    fn from_iter<I: IntoIterator<Item = (N, V)>>(pairs: I) -> Self {
        let mut headers = Self::new();
        headers.extend(pairs);
        headers
    }
}

/// Adds pairs with [`Headers::insert`].
impl<N: Into<String>, V: Into<String>> Extend<(N, V)> for Headers {
    fn extend<I: IntoIterator<Item = (N, V)>>(&mut self, pairs: I) {
        for (name, value) in pairs {
            self.insert(name, value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn get_ignores_ascii_case() {
        let headers: Headers = [("Content-Length", "2")].into_iter().collect();
        assert_eq!(headers.get("content-length"), Some("2"));
        assert_eq!(headers.get("CONTENT-LENGTH"), Some("2"));
        assert_eq!(headers.get("Content-Lengt"), None);
    }

    #[test]
    fn insert_replaces_same_name_in_place() {
        let mut headers = Headers::new();
        headers.insert("A", "1");
        headers.insert("B", "2");
        headers.insert("a", "3");
        assert_eq!(headers.iter().collect::<Vec<_>>(), [("a", "3"), ("B", "2")]);
        assert_eq!(headers.len(), 2);
    }

    #[test]
    fn remove_returns_value_and_keeps_order_of_rest() {
        let mut headers: Headers = [("A", "1"), ("B", "2"), ("C", "3")].into_iter().collect();
        assert_eq!(headers.remove("b"), Some("2".to_owned()));
        assert_eq!(headers.remove("b"), None);
        assert_eq!(headers.iter().collect::<Vec<_>>(), [("A", "1"), ("C", "3")]);
    }

    #[test]
    fn new_headers_are_empty() {
        let headers = Headers::new();
        assert!(headers.is_empty());
        assert_eq!(headers.len(), 0);
        assert!(!headers.contains("Content-Type"));
    }

    #[test]
    fn debug_shows_pairs_as_a_map() {
        let headers: Headers = [("A", "1")].into_iter().collect();
        assert_eq!(format!("{headers:?}"), r#"{"A": "1"}"#);
    }
}
