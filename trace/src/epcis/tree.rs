//! The event as the reference generator (`epcis-event-hash-generator`) sees it: a tree of
//! Python values ([`PyNode`]) built from the JSON-LD document, corrected into the structure of
//! the XML form ([`Node`]), and written out as the CBV 2.0 pre-hash string
//! ([`PrehashWriter`]).

use super::*;

/// A name or value of the trees below: most are borrowed from the document (or the expanded
/// vocabulary), and those the conversion changes are owned.
pub(super) type Text<'a> = Cow<'a, str>;

/// The reference's `(name, value, children)` triple before the structure correction.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct PyNode<'a> {
    name: Text<'a>,
    value: Text<'a>,
    children: Vec<Self>,
}

/// Python's `str()` of a JSON scalar.
pub(super) fn py_str(value: &Value) -> Text<'_> {
    match value {
        Value::Null => Cow::Borrowed("None"),
        Value::Bool(true) => Cow::Borrowed("True"),
        Value::Bool(false) => Cow::Borrowed("False"),
        Value::Number(number) => Cow::Owned(if number.is_i64() || number.is_u64() {
            number.to_string()
        } else {
            py_float_repr(number.as_f64().unwrap_or(f64::NAN))
        }),
        Value::String(text) => Cow::Borrowed(text),
        Value::Array(_) | Value::Object(_) => Cow::Borrowed(""),
    }
}

/// `_json_to_py`, reading string values after the bare-string replacement.
pub(super) fn json_to_py<'a>(
    json: &'a Value,
    namespaces: &mut Namespaces,
    bare: &BareStrings<'a>,
) -> Result<PyNode<'a>, EpcisError> {
    let mut node = PyNode {
        name: Cow::Borrowed(""),
        value: Cow::Borrowed(""),
        children: Vec::new(),
    };
    match json {
        Value::Array(items) => {
            node.children.reserve_exact(items.len());
            for item in items {
                node.children.push(json_to_py(item, namespaces, bare)?);
            }
            let unsorted = items.iter().any(|item| {
                item.as_str()
                    .is_some_and(|s| UNSORTED_MEMBERS.contains(&bare.value(s)))
            });
            if !unsorted {
                node.children.sort();
            }
        }
        Value::Object(map) => {
            node.children.reserve(map.len());
            // One pass over the members finds those read first (a lookup would hash each).
            let (mut kind, mut text, mut unsorted) = (None, None, false);
            for (key, value) in map {
                match key.as_str() {
                    "type" => kind = Some(value),
                    "#text" => text = Some(value),
                    name => unsorted |= UNSORTED_MEMBERS.contains(&name),
                }
            }
            if let Some(kind) = kind {
                let kind = kind
                    .as_str()
                    .ok_or_else(|| EpcisError::Malformed("a type is not a string".to_owned()))?;
                node.name = Cow::Borrowed(bare.value(kind));
            }
            if let Some(text) = text {
                let text = text
                    .as_str()
                    .ok_or_else(|| EpcisError::Malformed("#text is not a string".to_owned()))?;
                node.value = Cow::Borrowed(bare.value(text));
            }
            for (key, value) in map {
                if matches!(key.as_str(), "#text" | "rdfs:comment" | "comment") {
                    continue;
                }
                if key.starts_with("@xmlns") {
                    let Value::String(namespace) = value else {
                        return Err(EpcisError::Malformed(format!("{key} is not a string")));
                    };
                    let prefix: String = key.chars().skip(7).collect();
                    namespaces.insert(prefix, bare.value(namespace));
                    node.name = namespaces.replace_text(std::mem::take(&mut node.name), false);
                    continue;
                }
                // The child is converted first: it may declare namespaces used by the key.
                let child = json_to_py(value, namespaces, bare)?;
                let key = namespaces.replace(key, false);
                if value.is_array() {
                    for element in child.children {
                        node.children.push(PyNode {
                            name: key.clone(),
                            value: element.value,
                            children: element.children,
                        });
                    }
                } else {
                    node.children.push(PyNode {
                        name: key,
                        value: child.value,
                        children: child.children,
                    });
                }
            }
            if !unsorted {
                node.children.sort();
            }
        }
        Value::String(text) => node.value = namespaces.replace(bare.value(text), true),
        scalar => node.value = py_str(scalar),
    }
    Ok(node)
}

/// A node after the structure correction: children may be pairs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Node<'a> {
    name: Text<'a>,
    value: Text<'a>,
    children: Vec<Item<'a>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Item<'a> {
    Node(Node<'a>),
    Pair(Node<'a>, Node<'a>),
}

impl<'a> From<PyNode<'a>> for Node<'a> {
    fn from(node: PyNode<'a>) -> Self {
        Self {
            name: node.name,
            value: node.value,
            children: node
                .children
                .into_iter()
                .map(|child| Item::Node(child.into()))
                .collect(),
        }
    }
}

/// `name` without a final `List`, if it has one.
pub(super) fn list_element_name<'a>(name: &Text<'a>) -> Option<Text<'a>> {
    match name {
        Cow::Borrowed(name) => name.strip_suffix("List").map(Cow::Borrowed),
        Cow::Owned(name) => name
            .strip_suffix("List")
            .map(|element| Cow::Owned(element.to_owned())),
    }
}

/// `deep_structure_correction`: maps the JSON data model onto the XML one.
pub(super) fn correct_structure(node: PyNode<'_>) -> Result<Node<'_>, EpcisError> {
    // Every corrected child comes from one child or more, so this is enough room.
    let mut corrected = Vec::with_capacity(node.children.len());
    let mut lists: Vec<(Text<'_>, Vec<PyNode<'_>>)> = Vec::new();
    let mut child_epcs = Vec::new();
    for child in node.children {
        if let Some(element_name) = list_element_name(&child.name) {
            let element = PyNode {
                name: element_name,
                value: child.value,
                children: child.children,
            };
            match lists.iter_mut().find(|(name, _)| *name == child.name) {
                Some((_, elements)) => elements.push(element),
                None => lists.push((child.name, vec![element])),
            }
        } else if child.name == "childEPCs" {
            child_epcs.push(PyNode {
                name: Cow::Borrowed("epc"),
                value: child.value,
                children: Vec::new(),
            });
        } else {
            corrected.push(Item::Node(correct_structure(child)?));
        }
    }
    for (name, elements) in lists {
        if PAIR_LISTS.contains(&&*name) {
            let mut pairs = Vec::with_capacity(elements.len());
            for element in elements {
                let mut members = element.children.into_iter();
                let (Some(first), Some(second)) = (members.next(), members.next()) else {
                    return Err(EpcisError::Malformed(format!(
                        "an entry of {name} has fewer than two members"
                    )));
                };
                pairs.push(Item::Pair(first.into(), second.into()));
            }
            corrected.push(Item::Node(Node {
                name,
                value: Cow::Borrowed(""),
                children: pairs,
            }));
        } else {
            let list = PyNode {
                name,
                value: Cow::Borrowed(""),
                children: elements,
            };
            corrected.push(Item::Node(correct_structure(list)?));
        }
    }
    if !child_epcs.is_empty() {
        let list = PyNode {
            name: Cow::Borrowed("childEPCs"),
            value: Cow::Borrowed(""),
            children: child_epcs,
        };
        corrected.push(Item::Node(correct_structure(list)?));
    }
    let name = match &*node.name {
        "inputEPC" | "outputEPC" => Cow::Borrowed("epc"),
        "inputQuantity" | "outputQuantity" | "childQuantity" => Cow::Borrowed("quantityElement"),
        "quantity" if !corrected.is_empty() => Cow::Borrowed("quantityElement"),
        _ => node.name,
    };
    Ok(Node {
        name,
        value: node.value,
        children: corrected,
    })
}

/// Writes the pre-hash strings of the events of one document.
///
/// The reference builds a string per field and joins them; here each event's string is written
/// into one buffer. Where the reference sorts the strings of sibling fields, their extents in
/// the buffer are recorded (as end positions on the `ends` stack) and sorted as strings.
pub(super) struct PrehashWriter<'c> {
    out: String,
    /// The end positions of the sibling entries written so far, for every open level.
    ends: Vec<usize>,
    values: &'c mut ValueCache,
}

impl<'c> PrehashWriter<'c> {
    pub(super) fn new(values: &'c mut ValueCache) -> Self {
        Self {
            out: String::new(),
            ends: Vec::new(),
            values,
        }
    }

    /// `"eventType=" + name + ordered fields + remaining fields` for one event.
    pub(super) fn event(&mut self, mut event: Node<'_>) -> Result<String, ValueFailure> {
        self.out.clear();
        self.ends.clear();
        self.out.push_str("eventType=");
        self.out.push_str(&event.name);
        self.ordered(&mut event.children, PROP_ORDER)?;
        event
            .children
            .retain(|item| !matches!(item, Item::Node(n) if IGNORED_FIELDS.contains(&&*n.name)));
        self.generic(&event.children)?;
        Ok(self.out.clone())
    }

    /// `_recurse_through_children_in_order`: writes the children named in `order`, removing
    /// those fully consumed, and appends the user extensions of non-event levels.
    fn ordered(
        &mut self,
        children: &mut Vec<Item<'_>>,
        order: &[OrderEntry],
    ) -> Result<(), ValueFailure> {
        let extensions = take_user_extensions(children);
        for entry in order {
            let Some(name) = entry.name else {
                continue;
            };
            let start = self.out.len();
            let base = self.ends.len();
            let mut consumed = false;
            for item in children.iter_mut() {
                let Item::Node(child) = item else {
                    continue;
                };
                if child.name != name {
                    continue;
                }
                let before = self.out.len();
                self.child(child, entry.children)?;
                // Empty texts are left out.
                if self.out.len() > before {
                    self.ends.push(self.out.len());
                }
                consumed |= child.children.is_empty();
            }
            if consumed {
                children.retain(
                    |item| !matches!(item, Item::Node(c) if c.name == name && c.children.is_empty()),
                );
            }
            self.sort_entries(start, base);
        }
        if !extensions.is_empty() {
            self.generic(&extensions)?;
        }
        Ok(())
    }

    /// `_child_to_pre_hash_string`: the name, `=value` unless the value is empty, and the
    /// children in `order`; nothing when both are empty. The children are converted before
    /// the value, as in the reference, so that the same failure is reported.
    fn child(
        &mut self,
        child: &mut Node<'_>,
        order: Option<&[OrderEntry]>,
    ) -> Result<(), ValueFailure> {
        let start = self.out.len();
        self.out.push_str(&child.name);
        let name_end = self.out.len();
        if let Some(order) = order {
            self.ordered(&mut child.children, order)?;
        }
        let grandchildren_end = self.out.len();
        if !child.value.is_empty() {
            let stripped = py_strip(&child.value);
            self.out.push('=');
            if is_time_name(&child.name) {
                self.out.push_str(&fix_timestamp(stripped)?);
            } else {
                self.values.push_value(stripped, &mut self.out)?;
            }
            if self.out.len() == grandchildren_end + 1 {
                // An empty value: no `=` either.
                self.out.truncate(grandchildren_end);
            } else if grandchildren_end > name_end {
                // The value goes before the children.
                let tail = self.out.split_off(name_end);
                let (grandchildren, value) = tail.split_at(grandchildren_end - name_end);
                self.out.push_str(value);
                self.out.push_str(grandchildren);
            }
        }
        if self.out.len() == name_end {
            self.out.truncate(start);
        }
        Ok(())
    }

    /// `_generic_child_list_to_prehash_string`: `name=value` plus children for every item,
    /// sorted unless an item is named `bizTransaction`, `source` or `destination`.
    fn generic(&mut self, children: &[Item<'_>]) -> Result<(), ValueFailure> {
        let keep_order = children
            .iter()
            .any(|item| matches!(item, Item::Node(n) if UNSORTED_MEMBERS.contains(&&*n.name)));
        let start = self.out.len();
        let base = self.ends.len();
        for child in children {
            match child {
                // The reference hashes a pair as the generic list of its two members.
                Item::Pair(first, second) => {
                    let pair_start = self.out.len();
                    let pair_base = self.ends.len();
                    for member in [first, second] {
                        self.generic_node(member)?;
                        self.ends.push(self.out.len());
                    }
                    if !UNSORTED_MEMBERS
                        .iter()
                        .any(|m| first.name == *m || second.name == *m)
                    {
                        self.sort_entries(pair_start, pair_base);
                    } else {
                        self.ends.truncate(pair_base);
                    }
                }
                Item::Node(node) => self.generic_node(node)?,
            }
            self.ends.push(self.out.len());
        }
        if keep_order {
            self.ends.truncate(base);
        } else {
            self.sort_entries(start, base);
        }
        Ok(())
    }

    /// One item of [`Self::generic`].
    fn generic_node(&mut self, node: &Node<'_>) -> Result<(), ValueFailure> {
        self.out.push_str(&node.name);
        let text = py_strip(&node.value);
        if !text.is_empty() {
            self.out.push('=');
            self.values.push_value(text, &mut self.out)?;
        }
        self.generic(&node.children)
    }

    /// Sorts the entries written since `start`, whose end positions are on the `ends` stack
    /// from `base`, and takes them off the stack.
    fn sort_entries(&mut self, start: usize, base: usize) {
        if self.ends.len() >= base + 2 {
            // Every position was the buffer's length after a whole text was written, so each
            // range is on character boundaries and within the buffer.
            let mut ranges: Vec<std::ops::Range<usize>> =
                Vec::with_capacity(self.ends.len() - base);
            let mut from = start;
            for &end in &self.ends[base..] {
                ranges.push(from..end);
                from = end;
            }
            let out = &self.out;
            let in_order = ranges
                .windows(2)
                .all(|pair| out[pair[0].clone()] <= out[pair[1].clone()]);
            if !in_order {
                ranges.sort_by(|a, b| out[a.clone()].cmp(&out[b.clone()]));
                let sorted: String = ranges.iter().map(|range| &out[range.clone()]).collect();
                self.out.truncate(start);
                self.out.push_str(&sorted);
            }
        }
        self.ends.truncate(base);
    }
}

/// `"time" in name.lower() and "offset" not in name.lower()`: whether the value of `name` is a
/// timestamp.
pub(super) fn is_time_name(name: &str) -> bool {
    if name.is_ascii() {
        // ASCII lowercasing is Unicode lowercasing for ASCII text, without the copy.
        let contains = |needle: &str| {
            name.as_bytes()
                .windows(needle.len())
                .any(|window| window.eq_ignore_ascii_case(needle.as_bytes()))
        };
        return contains("time") && !contains("offset");
    }
    let lower = name.to_lowercase();
    lower.contains("time") && !lower.contains("offset")
}

/// `_gather_user_extensions`: below the event level, `{namespace/}name` children are taken out
/// to be appended after the ordered ones.
pub(super) fn take_user_extensions<'a>(children: &mut Vec<Item<'a>>) -> Vec<Item<'a>> {
    if children.len() <= 1 {
        return Vec::new();
    }
    // Python's `in` is a substring test on a name and a membership test on a pair's first
    // triple.
    let pair_has = |node: &Node<'_>, text: &str| node.name == text || node.value == text;
    let is_event_level = children.iter().any(|item| match item {
        Item::Node(node) => node.name.contains("eventTime") || node.name.contains("action"),
        Item::Pair(first, _) => pair_has(first, "eventTime") || pair_has(first, "action"),
    });
    if is_event_level {
        return Vec::new();
    }
    let is_extension = |item: &Item<'_>| match item {
        Item::Node(node) => node.name.contains('{') && node.name.contains("/}"),
        Item::Pair(first, _) => pair_has(first, "{") && pair_has(first, "/}"),
    };
    let (extensions, kept): (Vec<Item<'a>>, Vec<Item<'a>>) =
        std::mem::take(children).into_iter().partition(is_extension);
    *children = kept;
    extensions
}
