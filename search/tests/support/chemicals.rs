//! Reads the real chemicals list (`data/chemicals.csv` of the workspace, or the shared copy
//! beside the checkout) and turns rows into `hazchem.product` records.

use std::path::PathBuf;

use idnode_proto::{HandleValue, Record};

/// One row of `chemicals.csv`: the columns the search uses.
#[derive(Debug, Clone)]
pub(crate) struct Chemical {
    /// The CAS number.
    pub(crate) cas: String,
    /// The English name.
    pub(crate) name_en: String,
    /// The Chinese name, possibly empty.
    pub(crate) name_zh: String,
}

/// Where the list is: the workspace's `data/` copy when present, else the shared one.
pub(crate) fn csv_path() -> PathBuf {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let local = manifest.join("../data/chemicals.csv");
    if local.exists() {
        local
    } else {
        manifest.join("../../shared/data/chemicals.csv")
    }
}

/// Splits one CSV line (RFC 4180 quoting, no line breaks inside cells).
fn split_line(line: &str) -> Vec<String> {
    let mut cells = Vec::new();
    let mut cell = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                cell.push('"');
                chars.next();
            }
            ('"', true) => quoted = false,
            ('"', false) if cell.is_empty() => quoted = true,
            (',', false) => cells.push(std::mem::take(&mut cell)),
            (c, _) => cell.push(c),
        }
    }
    cells.push(cell);
    cells
}

/// Every row of the list.
pub(crate) fn load() -> Vec<Chemical> {
    let path = csv_path();
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let mut lines = text.lines();
    let header = split_line(lines.next().expect("the list has a header"));
    let column = |name: &str| {
        header
            .iter()
            .position(|h| h == name)
            .unwrap_or_else(|| panic!("no column {name}"))
    };
    let (cas, en, zh) = (column("cas"), column("name_en"), column("name_zh"));
    lines
        .filter(|l| !l.is_empty())
        .map(|line| {
            let cells = split_line(line);
            let cell = |i: usize| cells.get(i).cloned().unwrap_or_default();
            Chemical {
                cas: cell(cas),
                name_en: cell(en),
                name_zh: cell(zh),
            }
        })
        .collect()
}

/// The values of a `hazchem.product` record for a chemical made by `manufacturer`.
pub(crate) fn product_values(chemical: &Chemical, manufacturer: &str) -> Vec<HandleValue> {
    let template = idnode_templates::builtin::product();
    let name = if chemical.name_zh.is_empty() {
        &chemical.name_en
    } else {
        &chemical.name_zh
    };
    let mut values = vec![
        template.link_value(),
        HandleValue::new(2000, "productName", name.as_str()),
        HandleValue::new(2001, "casNo", format!("[\"{}\"]", chemical.cas)),
        HandleValue::new(2010, "manufacturer", manufacturer),
    ];
    if !chemical.name_en.is_empty() {
        values.push(HandleValue::new(
            2013,
            "productNameEn",
            chemical.name_en.as_str(),
        ));
    }
    values
}

/// The encoded record of [`product_values`].
#[allow(dead_code)] // Used by the benchmark only.
pub(crate) fn product_record(chemical: &Chemical, manufacturer: &str) -> Vec<u8> {
    Record::encode(&product_values(chemical, manufacturer))
}
