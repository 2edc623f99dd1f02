//! Three-way merges inside one field value: tags as sets, long text by
//! words. Pure and deterministic up to the diff's time budget; the server's
//! merge calls these so every store and every client gets the same answer.
//!
//! "Mine" is the incoming edit, "theirs" the value it meets; both changed
//! the same `base`.
//!
//! The diffs come from `similar` (Myers with a deadline), the three-way
//! step is ours: `diffy`'s merge works on whole lines only, and a clash
//! should be as small as the words both sides changed, with whitespace-only
//! changes yielding; the deadline bounds a megabyte of text.

use std::ops::Range;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use serde_json::Value;
use similar::{Algorithm, DiffTag, capture_diff_slices_deadline};

use crate::MergeKind;
use crate::fields::same_value;

/// A diff that runs past this is finished coarsely (larger changed regions),
/// which can only turn a merge into a clash, never merge wrongly.
const DIFF_BUDGET: Duration = Duration::from_millis(250);

/// Merges tag lists: both sides' additions and removals against `base` are
/// applied. Never a clash. When one side left the value as it was, the other
/// side is returned as it is (its order too); otherwise the result keeps the
/// base's order, then theirs' additions, then mine's, each once.
///
/// Values that are not arrays count as empty lists (a `null` base is an
/// empty one); array items that are not strings are compared as JSON.
pub fn merge_sets(base: &Value, mine: &Value, theirs: &Value) -> Value {
    let (b, m, t) = (items(base), items(mine), items(theirs));
    if same_set(&m, &b) {
        return Value::Array(dedup(t));
    }
    if same_set(&t, &b) || same_set(&m, &t) {
        return Value::Array(dedup(m));
    }
    let mut out: Vec<Value> = Vec::new();
    for v in &b {
        if m.contains(v) && t.contains(v) && !out.contains(v) {
            out.push(v.clone());
        }
    }
    for v in t.iter().chain(m.iter()) {
        if !b.contains(v) && !out.contains(v) {
            out.push(v.clone());
        }
    }
    Value::Array(out)
}

fn items(v: &Value) -> Vec<Value> {
    match v {
        Value::Array(a) => a.clone(),
        _ => Vec::new(),
    }
}

fn same_set(a: &[Value], b: &[Value]) -> bool {
    a.iter().all(|v| b.contains(v)) && b.iter().all(|v| a.contains(v))
}

fn dedup(values: Vec<Value>) -> Vec<Value> {
    let mut out: Vec<Value> = Vec::with_capacity(values.len());
    for v in values {
        if !out.contains(&v) {
            out.push(v);
        }
    }
    out
}

/// How two edits of one field from the same base came together.
#[derive(Debug, Clone, PartialEq)]
pub enum FieldMerge {
    /// One value holds both sides' changes (or the sides agree).
    Merged(Value),
    /// The changes clash. For a text, its stretches: what merged cleanly,
    /// and each clashing stretch; empty for a value merged whole.
    Clash(Vec<TextPart>),
}

/// Merges one field by its kind: `mine` is the incoming edit, `theirs` the
/// value it meets, both changed from `base`. A side that left the value as
/// it was yields to the other; equal changes agree. Otherwise a `set`
/// merges ([`merge_sets`]), a `text` merges by lines and words
/// ([`merge_text`]; `null` counts as empty, and an empty result of a side
/// that cleared the field is `null`), and a `whole` value clashes.
pub fn merge_value(kind: MergeKind, base: &Value, mine: &Value, theirs: &Value) -> FieldMerge {
    if same_value(mine, theirs) || same_value(mine, base) {
        return FieldMerge::Merged(theirs.clone());
    }
    if same_value(theirs, base) {
        return FieldMerge::Merged(mine.clone());
    }
    match kind {
        MergeKind::Whole => FieldMerge::Clash(Vec::new()),
        MergeKind::Set => FieldMerge::Merged(merge_sets(base, mine, theirs)),
        MergeKind::Text => {
            let (Some(b), Some(m), Some(t)) = (text_of(base), text_of(mine), text_of(theirs))
            else {
                return FieldMerge::Clash(Vec::new());
            };
            let merged = merge_text(b, m, t);
            match merged.clean_text() {
                Some(text) if text.is_empty() && (mine.is_null() || theirs.is_null()) => {
                    FieldMerge::Merged(Value::Null)
                }
                Some(text) => FieldMerge::Merged(Value::String(text)),
                None => FieldMerge::Clash(merged.parts),
            }
        }
    }
}

/// The text of merged `parts` with every clash settled for one side:
/// mine's stretch if `mine`, else theirs'.
pub fn settle_clashes(parts: &[TextPart], mine: bool) -> String {
    let mut out = String::new();
    for part in parts {
        out.push_str(match part {
            TextPart::Clean(s) => s,
            TextPart::Clash { mine: m, .. } if mine => m,
            TextPart::Clash { theirs, .. } => theirs,
        });
    }
    out
}

fn text_of(v: &Value) -> Option<&str> {
    match v {
        Value::Null => Some(""),
        Value::String(s) => Some(s),
        _ => None,
    }
}

/// One stretch of a merged text. On the wire: `{"clean": "..."}` or
/// `{"clash": {"base": "...", "mine": "...", "theirs": "..."}}`.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum TextPart {
    /// Text both sides agree on, or that only one side changed.
    Clean(String),
    /// A stretch both sides changed differently: `base` is what it was.
    Clash {
        base: String,
        mine: String,
        theirs: String,
    },
}

/// The result of [`merge_text`]: the text as stretches, clean or clashing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextMerge {
    pub parts: Vec<TextPart>,
}

impl TextMerge {
    /// Whether nothing clashed.
    pub fn is_clean(&self) -> bool {
        self.parts.iter().all(|p| matches!(p, TextPart::Clean(_)))
    }

    /// The merged text, or `None` if a stretch clashed.
    pub fn clean_text(&self) -> Option<String> {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                TextPart::Clean(s) => out.push_str(s),
                TextPart::Clash { .. } => return None,
            }
        }
        Some(out)
    }
}

/// Merges three versions of a text by words: changes to different words
/// (also on the same line) both apply; a stretch both sides changed
/// differently clashes, unless one side's change there is whitespace only
/// (line endings included), in which case the other side's is taken.
/// Tokens are words, runs of spaces, line ends and single other
/// characters, never split inside a character or before a combining mark.
pub fn merge_text(base: &str, mine: &str, theirs: &str) -> TextMerge {
    if mine == base || mine == theirs {
        return clean(theirs);
    }
    if theirs == base {
        return clean(mine);
    }
    let (b, m, t) = (tokens(base), tokens(mine), tokens(theirs));
    let deadline = Instant::now() + DIFF_BUDGET;
    let mut all = hunks(&b, &m, Side::Mine, deadline);
    all.extend(hunks(&b, &t, Side::Theirs, deadline));
    // Sorted by where they start in the base, a side's own hunks in order.
    let hunks = {
        all.sort_by_key(|h| (h.start, h.end, h.side));
        all
    };

    let mut parts = Parts::default();
    let mut at = 0; // next base token not yet emitted
    let mut i = 0;
    while i < hunks.len() {
        // A cluster: hunks that overlap, or start at the same place.
        let mut j = i + 1;
        let (start, mut end) = (hunks[i].start, hunks[i].end);
        let words = |h: &Hunk| {
            let new = if h.side == Side::Mine { &m } else { &t };
            !blank(&b[h.start..h.end]) || !blank(&new[h.new.clone()])
        };
        let mut has_words = words(&hunks[i]);
        while j < hunks.len() && touches(&b, end, &hunks[j], has_words && words(&hunks[j])) {
            end = end.max(hunks[j].end);
            has_words |= words(&hunks[j]);
            j += 1;
        }
        let cluster = &hunks[i..j];
        parts.clean(&b[at..start]);
        let side_text = |side: Side, tokens: &[&str]| -> String {
            let mut out = String::new();
            let mut pos = start;
            for h in cluster.iter().filter(|h| h.side == side) {
                out.extend(b[pos..h.start].iter().copied());
                out.extend(tokens[h.new.clone()].iter().copied());
                pos = h.end;
            }
            out.extend(b[pos..end].iter().copied());
            out
        };
        let base_text: String = b[start..end].concat();
        let mine_text = side_text(Side::Mine, &m);
        let theirs_text = side_text(Side::Theirs, &t);
        let only = |side| cluster.iter().all(|h| h.side == side);
        let take_mine = if only(Side::Mine) || mine_text == theirs_text {
            Some(true)
        } else if only(Side::Theirs) || blank_change(&base_text, &mine_text) {
            Some(false)
        } else if blank_change(&base_text, &theirs_text) {
            Some(true)
        } else {
            None
        };
        match take_mine {
            Some(true) => parts.clean_str(&mine_text),
            Some(false) => parts.clean_str(&theirs_text),
            None => parts.clash(base_text, mine_text, theirs_text),
        }
        at = end;
        i = j;
    }
    parts.clean(&b[at..]);
    TextMerge { parts: parts.0 }
}

fn clean(text: &str) -> TextMerge {
    TextMerge {
        parts: vec![TextPart::Clean(text.to_string())],
    }
}

/// Whether `changed` differs from `base` in whitespace only.
fn blank_change(base: &str, changed: &str) -> bool {
    base.chars()
        .filter(|c| !c.is_whitespace())
        .eq(changed.chars().filter(|c| !c.is_whitespace()))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Side {
    Mine,
    Theirs,
}

/// Base tokens `start..end` replaced by a side's tokens `new`.
#[derive(Debug, Clone)]
struct Hunk {
    start: usize,
    end: usize,
    new: Range<usize>,
    side: Side,
}

/// A side's changes against the base: lines first, then the words of the
/// changed lines, so words align within lines that changed and never
/// across lines that did not.
fn hunks(base: &[&str], side: &[&str], which: Side, deadline: Instant) -> Vec<Hunk> {
    let (base_lines, side_lines) = (lines(base), lines(side));
    let line_text = |tokens: &[&str], r: &Range<usize>| tokens[r.clone()].concat();
    let b: Vec<String> = base_lines.iter().map(|r| line_text(base, r)).collect();
    let s: Vec<String> = side_lines.iter().map(|r| line_text(side, r)).collect();
    let mut out = Vec::new();
    for op in capture_diff_slices_deadline(Algorithm::Myers, &b, &s, Some(deadline)) {
        let (tag, old, new) = op.as_tag_tuple();
        if tag == DiffTag::Equal {
            continue;
        }
        // Token ranges of the changed lines on both sides.
        let span = |ranges: &[Range<usize>], lines: Range<usize>, len| {
            let start = ranges.get(lines.start).map_or(len, |r| r.start);
            let end = lines
                .end
                .checked_sub(1)
                .and_then(|i| ranges.get(i))
                .map_or(start, |r| r.end);
            start..end.max(start)
        };
        // A changed line is refined by words when it pairs with one changed
        // line; lines added, removed or regrouped change whole.
        let whole = old.len() != new.len();
        let pairs: Vec<(Range<usize>, Range<usize>)> = if !whole {
            old.clone()
                .zip(new.clone())
                .map(|(o, n)| (o..o + 1, n..n + 1))
                .collect()
        } else {
            vec![(old, new)]
        };
        for (o, n) in pairs {
            let bt = span(&base_lines, o, base.len());
            let st = span(&side_lines, n, side.len());
            if whole || bt.len() + st.len() == 0 {
                out.push(Hunk {
                    start: bt.start,
                    end: bt.end,
                    new: st,
                    side: which,
                });
                continue;
            }
            for op in capture_diff_slices_deadline(
                Algorithm::Myers,
                &base[bt.clone()],
                &side[st.clone()],
                Some(deadline),
            ) {
                let (tag, o, n) = op.as_tag_tuple();
                if tag != DiffTag::Equal {
                    out.push(Hunk {
                        start: bt.start + o.start,
                        end: bt.start + o.end,
                        new: st.start + n.start..st.start + n.end,
                        side: which,
                    });
                }
            }
        }
    }
    out
}

/// The token ranges of each line (a line end ends its line).
fn lines(tokens: &[&str]) -> Vec<Range<usize>> {
    let mut out = Vec::new();
    let mut start = 0;
    for (i, t) in tokens.iter().enumerate() {
        if t.ends_with('\n') {
            out.push(start..i + 1);
            start = i + 1;
        }
    }
    if start < tokens.len() {
        out.push(start..tokens.len());
    }
    out
}

/// Whether `h` belongs to the cluster ending at base token `end`: it
/// overlaps or touches it, or, when both change words (`words`), only
/// non-blank tokens lie between them. So changes to words merge apart
/// only when a space or line end separates them: a word written without
/// spaces (a date, an email address, `a-b`) is one unit, and two sides
/// changing different pieces of it clash.
fn touches(base: &[&str], end: usize, h: &Hunk, words: bool) -> bool {
    h.start <= end || (words && blank_free(&base[end..h.start]))
}

fn blank(tokens: &[&str]) -> bool {
    tokens.iter().all(|t| t.chars().all(char::is_whitespace))
}

fn blank_free(tokens: &[&str]) -> bool {
    tokens.iter().all(|t| !t.chars().any(char::is_whitespace))
}

#[derive(Default)]
struct Parts(Vec<TextPart>);

impl Parts {
    fn clean(&mut self, tokens: &[&str]) {
        self.clean_str(&tokens.concat());
    }

    fn clean_str(&mut self, s: &str) {
        if s.is_empty() {
            return;
        }
        if let Some(TextPart::Clean(last)) = self.0.last_mut() {
            last.push_str(s);
        } else {
            self.0.push(TextPart::Clean(s.to_string()));
        }
    }

    fn clash(&mut self, base: String, mine: String, theirs: String) {
        self.0.push(TextPart::Clash { base, mine, theirs });
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Class {
    Word,
    Space,
    LineEnd,
    Other,
}

fn class(c: char) -> Class {
    if c == '\n' {
        Class::LineEnd
    } else if c.is_whitespace() {
        Class::Space
    } else if c.is_alphanumeric() || c == '_' || c == '\'' {
        Class::Word
    } else {
        Class::Other
    }
}

/// Joins the character before it: combining marks, joiners and variation
/// selectors (accents written apart, emoji sequences).
fn attaches(c: char) -> bool {
    matches!(c,
        '\u{0300}'..='\u{036F}'
        | '\u{1AB0}'..='\u{1AFF}'
        | '\u{1DC0}'..='\u{1DFF}'
        | '\u{20D0}'..='\u{20FF}'
        | '\u{FE00}'..='\u{FE0F}'
        | '\u{FE20}'..='\u{FE2F}'
        | '\u{200D}'
        | '\u{E0020}'..='\u{E007F}'
        | '\u{1F3FB}'..='\u{1F3FF}')
}

/// Splits `text` into words, runs of spaces, line ends (`\r\n` is one) and
/// single other characters (with what attaches to them).
fn tokens(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut prev: Option<(Class, char)> = None;
    for (i, c) in text.char_indices() {
        let mut cls = class(c);
        let split = match prev {
            None => false,
            Some((prev_cls, p)) if attaches(c) || p == '\u{200D}' => {
                cls = prev_cls;
                false
            }
            Some((Class::Space, '\r')) if c == '\n' => false,
            Some((Class::Word, _)) if cls == Class::Word => false,
            Some((Class::Space, _)) if cls == Class::Space && c != '\r' => false,
            Some(_) => true,
        };
        if split {
            out.push(&text[start..i]);
            start = i;
        }
        prev = Some((cls, c));
    }
    if start < text.len() {
        out.push(&text[start..]);
    }
    out
}

#[cfg(test)]
mod tests;
