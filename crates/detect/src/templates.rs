//! Online log-template mining in the manner of Drain: a message's words, with variable-looking ones masked,
//! go to a leaf chosen by their count and first word; inside the leaf the most similar template takes the
//! message if enough positions agree (and forgets the positions that differ), else the message starts a
//! template of its own. Templates are capped in number and per leaf, least recently used first out.

use std::collections::HashMap;

use crate::table::Table;

/// Stands for a variable position.
pub const WILDCARD: &str = "<*>";

#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub templates: usize,
    /// Templates compared per message (the leaf's newest first): bounds the cost of a message.
    pub per_leaf: usize,
    /// Words looked at per message; the rest are one wildcard.
    pub max_words: usize,
    /// Share of agreeing positions for a message to join a template.
    pub similarity: f32,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            templates: 5_000,
            per_leaf: 64,
            max_words: 40,
            similarity: 0.5,
        }
    }
}

/// One template.
#[derive(Debug, Clone)]
pub struct Template {
    pub id: u32,
    pub words: Vec<String>,
    pub count: u64,
}

impl Template {
    pub fn text(&self) -> String {
        self.words.join(" ")
    }
}

/// What a message matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Matched {
    pub id: u32,
    /// The message started this template.
    pub new: bool,
}

pub struct Miner {
    limits: Limits,
    templates: Table<u32, Template>,
    /// (word count, first word) → template ids, newest last. Ids of evicted templates are pruned on use.
    leaves: HashMap<(usize, String), Vec<u32>>,
    next_id: u32,
}

impl Miner {
    pub fn new(limits: Limits) -> Self {
        Miner {
            limits,
            templates: Table::new(limits.templates),
            leaves: HashMap::new(),
            next_id: 1,
        }
    }

    pub fn len(&self) -> usize {
        self.templates.len()
    }

    pub fn is_empty(&self) -> bool {
        self.templates.is_empty()
    }

    pub fn evicted(&self) -> u64 {
        self.templates.evicted()
    }

    pub fn get(&self, id: u32) -> Option<&Template> {
        self.templates.peek(&id)
    }

    /// The template of `message`, learning from it.
    pub fn learn(&mut self, message: &str) -> Matched {
        let words = words(message, self.limits.max_words);
        let leaf_key = (words.len(), words.first().cloned().unwrap_or_default());
        let mut leaf = self.leaves.remove(&leaf_key).unwrap_or_default();
        leaf.retain(|id| self.templates.peek(id).is_some());
        let best = self.best(&leaf, &words);
        let matched = match best {
            Some(id) => {
                if let Some(t) = self.templates.get(&id) {
                    merge(&mut t.words, &words);
                    t.count += 1;
                }
                Matched { id, new: false }
            }
            None => {
                let id = self.next_id;
                self.next_id = self.next_id.wrapping_add(1).max(1);
                if leaf.len() >= self.limits.per_leaf {
                    leaf.remove(0);
                }
                leaf.push(id);
                self.templates.entry(id, || Template {
                    id,
                    words,
                    count: 1,
                });
                Matched { id, new: true }
            }
        };
        self.leaves.insert(leaf_key, leaf);
        if self.leaves.len() > 2 * self.limits.templates.max(1) {
            self.prune();
        }
        matched
    }

    /// Forgets evicted templates' ids and the leaves left empty: afterwards no more leaves than templates,
    /// so this runs once per `templates` new leaves at most.
    fn prune(&mut self) {
        let templates = &self.templates;
        self.leaves.retain(|_, ids| {
            ids.retain(|id| templates.peek(id).is_some());
            !ids.is_empty()
        });
    }

    fn best(&self, leaf: &[u32], words: &[String]) -> Option<u32> {
        let mut best: Option<(f32, u32)> = None;
        for &id in leaf.iter().rev().take(self.limits.per_leaf) {
            let Some(t) = self.templates.peek(&id) else {
                continue;
            };
            let sim = similarity(&t.words, words);
            if sim >= self.limits.similarity && best.is_none_or(|(b, _)| sim > b) {
                best = Some((sim, id));
            }
        }
        best.map(|(_, id)| id)
    }
}

/// Bytes of a word kept (a longer one is cut at a character boundary): a template's size is bounded.
pub const MAX_WORD: usize = 64;

/// The message's words, variable-looking ones masked: those with a third or more digits (addresses,
/// numbers, interface names like Gi0/1), and long hex strings. `%LINK-3-UPDOWN:` keeps its word.
pub fn words(message: &str, max: usize) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for (i, w) in message.split_whitespace().enumerate() {
        if i == max {
            out.push(WILDCARD.to_owned());
            break;
        }
        out.push(match variable(w) {
            true => WILDCARD.to_owned(),
            false => cut(w, MAX_WORD).to_owned(),
        });
    }
    out
}

/// `s` cut to at most `max` bytes at a character boundary.
pub fn cut(s: &str, max: usize) -> &str {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

fn variable(w: &str) -> bool {
    let digits = w.bytes().filter(u8::is_ascii_digit).count();
    let hex = w.len() >= 8
        && w.bytes()
            .all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'-');
    3 * digits >= w.len() && digits > 0 || hex
}

fn similarity(template: &[String], words: &[String]) -> f32 {
    if template.len() != words.len() || words.is_empty() {
        return f32::from(u8::from(words.is_empty() && template.is_empty()));
    }
    let same = template
        .iter()
        .zip(words)
        .filter(|(t, w)| t == w || t.as_str() == WILDCARD)
        .count();
    same as f32 / words.len() as f32
}

fn merge(template: &mut [String], words: &[String]) {
    for (t, w) in template.iter_mut().zip(words) {
        if t != w {
            *t = WILDCARD.to_owned();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_that_differ_in_variables_share_a_template() {
        let mut m = Miner::new(Limits::default());
        let a = m.learn("%LINK-3-UPDOWN: Interface GigabitEthernet0/1, changed state to down");
        let b = m.learn("%LINK-3-UPDOWN: Interface GigabitEthernet0/2, changed state to up");
        let c = m.learn("Accepted password for admin from 192.0.2.7 port 52113 ssh2");
        let d = m.learn("Accepted password for root from 192.0.2.9 port 40001 ssh2");
        assert!(a.new && !b.new && a.id == b.id, "{a:?} {b:?}");
        assert!(c.new && !d.new && c.id == d.id);
        assert_eq!(
            m.get(a.id).unwrap().text(),
            "%LINK-3-UPDOWN: Interface <*> changed state to <*>"
        );
        assert_eq!(
            m.get(c.id).unwrap().text(),
            "Accepted password for <*> from <*> port <*> ssh2"
        );
        let e = m.learn("kernel: Out of memory: Killed process 4242 (java)");
        assert!(e.new && e.id != a.id);
    }

    #[test]
    fn leaves_of_evicted_templates_are_forgotten() {
        let mut m = Miner::new(Limits {
            templates: 10,
            ..Limits::default()
        });
        // every message its own leaf (its own first word), long words cut
        for i in 0..1000u32 {
            let first: String = (0..3)
                .map(|k| char::from(b'a' + ((i >> (5 * k)) % 26) as u8))
                .collect();
            m.learn(&format!("{first}{} went away", "x".repeat(500)));
        }
        assert_eq!(m.len(), 10);
        assert!(m.leaves.len() <= 20, "{}", m.leaves.len());
        let t = m.get(m.next_id - 1).unwrap();
        assert_eq!(t.words[0].len(), MAX_WORD);
        assert_eq!(cut("héllo", 2), "h");
    }

    #[test]
    fn the_template_count_is_capped() {
        let mut m = Miner::new(Limits {
            templates: 10,
            ..Limits::default()
        });
        for i in 0..100 {
            m.learn(&format!(
                "event{} happened here{} now",
                char::from(b'a' + i % 26),
                i
            ));
        }
        assert_eq!(m.len(), 10);
        assert!(m.evicted() > 0);
    }
}
