//! C2SP tlog-tiles: tile coordinates, paths, tile contents and entry bundles.
//!
//! A tile at level `L` and index `N` holds up to 256 consecutive hashes of tree level `8·L`
//! (<https://c2sp.org/tlog-tiles>): the hash at position `i` is the root of leaves
//! `[(N·256+i)·256^L, (N·256+i+1)·256^L)`. Full tiles have width 256; a partial tile (width
//! 1..255) is served at `tile/<L>/<N>.p/<W>`. Entry bundles (`tile/entries/<N>[.p/<W>]`) hold the
//! log entries themselves, each prefixed by its big-endian `u16` length.

use super::{Hash, HashReader, TreeError, stored_hash_index};

/// The number of hashes (or entries) in a full tile.
pub const TILE_WIDTH: u16 = 256;

/// The tile height in tree levels (`log2(TILE_WIDTH)`).
pub const TILE_HEIGHT: u32 = 8;

/// The largest tile level that can occur (`8·63` tree levels would exceed any `u64` size).
pub const MAX_LEVEL: u8 = 63;

/// The largest entry in an entry bundle.
pub const MAX_ENTRY_LEN: usize = u16::MAX as usize;

/// Errors from parsing tile paths and entry bundles.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TileError {
    /// The path is not a valid tile path.
    #[error("invalid tile path: {0}")]
    InvalidPath(&'static str),
    /// An entry bundle is malformed.
    #[error("invalid entry bundle: {0}")]
    InvalidBundle(&'static str),
    /// An entry is longer than 65535 bytes.
    #[error("entry of {0} bytes does not fit a u16 length prefix")]
    EntryTooLong(usize),
}

/// What a tile holds: Merkle tree hashes at some level, or log entries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TileKind {
    /// Hashes of tree level `8·level`.
    Hashes {
        /// The tile level (0..=63).
        level: u8,
    },
    /// An entry bundle (`tile/entries/…`).
    Entries,
}

/// A tile: its kind, index and width (1..=256).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Tile {
    /// Hash tile at a level, or entry bundle.
    pub kind: TileKind,
    /// The tile index `N` within its level.
    pub index: u64,
    /// The number of hashes or entries, 1..=256; 256 is a full tile.
    pub width: u16,
}

impl Tile {
    /// Returns whether the tile is full.
    pub fn is_full(&self) -> bool {
        self.width == TILE_WIDTH
    }

    /// The path relative to the log prefix, e.g. `tile/0/x001/x234/067.p/8` or
    /// `tile/entries/000`.
    pub fn path(&self) -> String {
        let mut path = String::from("tile/");
        match self.kind {
            TileKind::Hashes { level } => path.push_str(&level.to_string()),
            TileKind::Entries => path.push_str("entries"),
        }
        path.push('/');
        path.push_str(&encode_index(self.index));
        if !self.is_full() {
            path.push_str(".p/");
            path.push_str(&self.width.to_string());
        }
        path
    }

    /// Parses a path relative to the log prefix (the inverse of [`Tile::path`]).
    ///
    /// Only the canonical spelling is accepted: no leading zeros in the level or width, three
    /// digits per index element, and `x` on every index element but the last.
    pub fn parse_path(path: &str) -> Result<Self, TileError> {
        let rest = path
            .strip_prefix("tile/")
            .ok_or(TileError::InvalidPath("missing tile/ prefix"))?;
        let (kind_str, rest) = rest
            .split_once('/')
            .ok_or(TileError::InvalidPath("missing level"))?;
        let kind = if kind_str == "entries" {
            TileKind::Entries
        } else {
            let level = parse_decimal(kind_str).ok_or(TileError::InvalidPath("bad level"))?;
            let level = u8::try_from(level)
                .ok()
                .filter(|&l| l <= MAX_LEVEL)
                .ok_or(TileError::InvalidPath("level out of range"))?;
            TileKind::Hashes { level }
        };
        let (index_str, width) = match rest.split_once(".p/") {
            Some((index_str, width_str)) => {
                let width = parse_decimal(width_str)
                    .filter(|&w| (1..u64::from(TILE_WIDTH)).contains(&w))
                    .ok_or(TileError::InvalidPath("bad partial width"))?;
                // The filter above keeps the width below 256.
                (index_str, width as u16)
            }
            None => (rest, TILE_WIDTH),
        };
        let index = decode_index(index_str)?;
        Ok(Self { kind, index, width })
    }

    /// The stored-hash indexes of the hashes in this hash tile, in tile order.
    ///
    /// Returns `None` for entry bundles.
    pub fn stored_hash_indexes(&self) -> Option<Vec<u64>> {
        let TileKind::Hashes { level } = self.kind else {
            return None;
        };
        let tree_level = u32::from(level) * TILE_HEIGHT;
        let start = self.index << TILE_HEIGHT;
        Some(
            (0..u64::from(self.width))
                .map(|i| stored_hash_index(tree_level, start + i))
                .collect(),
        )
    }
}

/// Encodes a tile index as 3-digit path elements, `x`-prefixed except the last
/// (`1234067` → `x001/x234/067`).
pub fn encode_index(index: u64) -> String {
    let mut groups = Vec::new();
    let mut n = index;
    loop {
        groups.push(n % 1000);
        n /= 1000;
        if n == 0 {
            break;
        }
    }
    let mut out = String::new();
    for (i, group) in groups.iter().rev().enumerate() {
        if i > 0 {
            out.push('/');
        }
        if i + 1 < groups.len() {
            out.push('x');
        }
        out.push_str(&format!("{group:03}"));
    }
    out
}

fn decode_index(text: &str) -> Result<u64, TileError> {
    let elements: Vec<&str> = text.split('/').collect();
    // u64::MAX has 20 digits, so at most 7 groups.
    if elements.len() > 7 {
        return Err(TileError::InvalidPath("index too long"));
    }
    let mut value: u64 = 0;
    for (i, element) in elements.iter().enumerate() {
        let last = i + 1 == elements.len();
        let digits = if last {
            *element
        } else {
            element
                .strip_prefix('x')
                .ok_or(TileError::InvalidPath("index element without x"))?
        };
        if digits.len() != 3 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(TileError::InvalidPath("index element is not 3 digits"));
        }
        let group: u64 = digits
            .parse()
            .map_err(|_| TileError::InvalidPath("index element is not 3 digits"))?;
        value = value
            .checked_mul(1000)
            .and_then(|v| v.checked_add(group))
            .ok_or(TileError::InvalidPath("index overflows"))?;
    }
    // Reject redundant leading groups such as x000/001.
    if encode_index(value) != text {
        return Err(TileError::InvalidPath("non-canonical index"));
    }
    Ok(value)
}

fn parse_decimal(text: &str) -> Option<u64> {
    if text.is_empty() || text.len() > 20 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if text.len() > 1 && text.starts_with('0') {
        return None;
    }
    text.parse().ok()
}

/// The hash tiles that must be (re)published when the tree grows from `old_size` to
/// `new_size` leaves, as in Go's `tlog.NewTiles` with height 8: every tile that became full or
/// changed its partial width, lowest level first.
pub fn new_tiles(old_size: u64, new_size: u64) -> Vec<Tile> {
    tiles_between(old_size, new_size, |level| TileKind::Hashes { level })
}

/// The entry bundles that must be (re)published when the log grows from `old_size` to
/// `new_size` entries.
pub fn new_entry_bundles(old_size: u64, new_size: u64) -> Vec<Tile> {
    tiles_between_level(old_size, new_size, TileKind::Entries)
}

fn tiles_between(old_size: u64, new_size: u64, kind: impl Fn(u8) -> TileKind) -> Vec<Tile> {
    let mut tiles = Vec::new();
    let mut level: u8 = 0;
    while level <= MAX_LEVEL && (u32::from(level) * TILE_HEIGHT) < 64 {
        let shift = u32::from(level) * TILE_HEIGHT;
        let old_n = old_size >> shift;
        let new_n = new_size >> shift;
        if new_n == 0 {
            break;
        }
        if old_n != new_n {
            tiles.extend(tiles_between_level(old_n, new_n, kind(level)));
        }
        level += 1;
    }
    tiles
}

/// The tiles of one level when the count of items at that level grows from `old_n` to `new_n`.
fn tiles_between_level(old_n: u64, new_n: u64, kind: TileKind) -> Vec<Tile> {
    let mut tiles = Vec::new();
    if old_n >= new_n {
        return tiles;
    }
    for index in (old_n >> TILE_HEIGHT)..(new_n >> TILE_HEIGHT) {
        tiles.push(Tile {
            kind,
            index,
            width: TILE_WIDTH,
        });
    }
    let index = new_n >> TILE_HEIGHT;
    // The remainder is below 256, so it fits a u16.
    let width = (new_n - (index << TILE_HEIGHT)) as u16;
    if width > 0 {
        tiles.push(Tile { kind, index, width });
    }
    tiles
}

/// The hash tile that holds the complete subtree `(tree_level, n)` when the tree has at least
/// `(n+1)·2^tree_level` leaves, together with the position of the hash in it.
///
/// Only levels that are multiples of 8 are stored in tiles; other levels return `None`.
pub fn tile_for_subtree(tree_level: u32, n: u64, tree_size: u64) -> Option<(Tile, u16)> {
    if !tree_level.is_multiple_of(TILE_HEIGHT) || tree_level >= 64 {
        return None;
    }
    let level = u8::try_from(tree_level / TILE_HEIGHT).ok()?;
    let count_at_level = tree_size >> tree_level;
    if n >= count_at_level {
        return None;
    }
    let index = n >> TILE_HEIGHT;
    let position = (n & 0xff) as u16;
    let full = (count_at_level >> TILE_HEIGHT) > index;
    let width = if full {
        TILE_WIDTH
    } else {
        (count_at_level & 0xff) as u16
    };
    Some((
        Tile {
            kind: TileKind::Hashes { level },
            index,
            width,
        },
        position,
    ))
}

/// Reads the contents of a hash tile (`width` concatenated 32-byte hashes) from stored hashes.
pub fn read_tile_data<R: HashReader>(
    tile: &Tile,
    reader: &R,
) -> Result<Vec<u8>, TreeError<R::Error>> {
    let indexes = tile
        .stored_hash_indexes()
        .ok_or(TreeError::InvalidRequest("entry bundles hold no hashes"))?;
    let hashes = reader.read_hashes(&indexes).map_err(TreeError::Read)?;
    if hashes.len() != indexes.len() {
        return Err(TreeError::ShortRead {
            wanted: indexes.len(),
            got: hashes.len(),
        });
    }
    Ok(hashes.iter().flat_map(|h| h.0).collect())
}

/// Splits tile data into hashes; the length must be a multiple of 32 and at most 256 hashes.
pub fn parse_tile_data(data: &[u8]) -> Result<Vec<Hash>, TileError> {
    if !data.len().is_multiple_of(32)
        || data.is_empty()
        || data.len() > 32 * usize::from(TILE_WIDTH)
    {
        return Err(TileError::InvalidBundle("tile data is not 1..=256 hashes"));
    }
    Ok(data.chunks_exact(32).filter_map(Hash::from_slice).collect())
}

/// Encodes an entry bundle: each entry as a big-endian `u16` length and its bytes.
pub fn encode_entry_bundle<E: AsRef<[u8]>>(entries: &[E]) -> Result<Vec<u8>, TileError> {
    let mut out = Vec::new();
    for entry in entries {
        let entry = entry.as_ref();
        let len = u16::try_from(entry.len()).map_err(|_| TileError::EntryTooLong(entry.len()))?;
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(entry);
    }
    Ok(out)
}

/// Parses an entry bundle into its entries (at most 256).
pub fn parse_entry_bundle(data: &[u8]) -> Result<Vec<&[u8]>, TileError> {
    let mut entries = Vec::new();
    let mut rest = data;
    while !rest.is_empty() {
        if entries.len() == usize::from(TILE_WIDTH) {
            return Err(TileError::InvalidBundle("more than 256 entries"));
        }
        let (len, tail) = rest
            .split_first_chunk::<2>()
            .ok_or(TileError::InvalidBundle("truncated length"))?;
        let len = usize::from(u16::from_be_bytes(*len));
        if tail.len() < len {
            return Err(TileError::InvalidBundle("truncated entry"));
        }
        let (entry, tail) = tail.split_at(len);
        entries.push(entry);
        rest = tail;
    }
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::merkle::{MemHashStore, split_stored_hash_index, tree_hash};

    #[test]
    fn index_encoding_matches_spec_example() {
        assert_eq!(encode_index(1_234_067), "x001/x234/067");
        assert_eq!(encode_index(0), "000");
        assert_eq!(encode_index(1000), "x001/000");
        let tile = Tile {
            kind: TileKind::Hashes { level: 0 },
            index: 1_234_067,
            width: 8,
        };
        assert_eq!(tile.path(), "tile/0/x001/x234/067.p/8");
        assert_eq!(Tile::parse_path(&tile.path()), Ok(tile));
        let bundle = Tile {
            kind: TileKind::Entries,
            index: 5,
            width: 256,
        };
        assert_eq!(bundle.path(), "tile/entries/005");
        assert_eq!(Tile::parse_path("tile/entries/005"), Ok(bundle));
    }

    #[test]
    fn rejects_non_canonical_paths() {
        for bad in [
            "tile/0/1234067",
            "tile/0/x000/001",
            "tile/0/001/234",
            "tile/00/001",
            "tile/64/001",
            "tile/0/001.p/0",
            "tile/0/001.p/256",
            "tile/0/001.p/08",
            "tile/0/01",
            "tiles/0/001",
            "tile/0/x999/x999/x999/x999/x999/x999/x999/999",
        ] {
            assert!(Tile::parse_path(bad).is_err(), "{bad}");
        }
        assert_eq!(
            Tile::parse_path("tile/0/x018/x446/x744/x073/x709/x551/615").map(|t| t.index),
            Ok(u64::MAX)
        );
    }

    #[test]
    fn new_tiles_cover_growth() {
        assert_eq!(new_tiles(0, 0), vec![]);
        let tiles = new_tiles(0, 300);
        assert_eq!(
            tiles,
            vec![
                Tile {
                    kind: TileKind::Hashes { level: 0 },
                    index: 0,
                    width: 256
                },
                Tile {
                    kind: TileKind::Hashes { level: 0 },
                    index: 1,
                    width: 44
                },
                Tile {
                    kind: TileKind::Hashes { level: 1 },
                    index: 0,
                    width: 1
                },
            ]
        );
        assert_eq!(
            new_tiles(300, 301),
            vec![Tile {
                kind: TileKind::Hashes { level: 0 },
                index: 1,
                width: 45
            }]
        );
        assert_eq!(new_entry_bundles(255, 257).len(), 2);
    }

    #[test]
    fn tile_hashes_are_subtree_roots() {
        let mut store = MemHashStore::new();
        let leaves: Vec<_> = (0..600u64)
            .map(|i| crate::merkle::leaf_hash(&i.to_be_bytes()))
            .collect();
        for leaf in &leaves {
            store.append_leaf_hash(*leaf);
        }
        for tile in new_tiles(0, 600) {
            let data = read_tile_data(&tile, &store).expect("tile");
            let hashes = parse_tile_data(&data).expect("parse");
            assert_eq!(hashes.len(), usize::from(tile.width));
            let TileKind::Hashes { level } = tile.kind else {
                unreachable!()
            };
            let span = 1u64 << (8 * u32::from(level));
            for (i, hash) in hashes.iter().enumerate() {
                let lo = (tile.index * 256 + i as u64) * span;
                let expected = crate::merkle::root_from_leaf_hashes(
                    &leaves[lo as usize..(lo + span) as usize],
                );
                assert_eq!(*hash, expected);
            }
        }
        // Level-8 subtree 1 (leaves 256..512) sits in tile 1/000 at position 1.
        let (tile, pos) = tile_for_subtree(8, 1, 600).expect("tile");
        assert_eq!(tile.path(), "tile/1/000.p/2");
        assert_eq!(pos, 1);
        let (level, n) = split_stored_hash_index(tile.stored_hash_indexes().expect("hashes")[1]);
        assert_eq!((level, n), (8, 1));
        assert!(tree_hash(600, &store).is_ok());
    }

    #[test]
    fn entry_bundles_round_trip() {
        let entries: Vec<Vec<u8>> = vec![b"".to_vec(), b"hello".to_vec(), vec![7; 300]];
        let bundle = encode_entry_bundle(&entries).expect("encode");
        let parsed = parse_entry_bundle(&bundle).expect("parse");
        assert_eq!(
            parsed,
            entries.iter().map(Vec::as_slice).collect::<Vec<_>>()
        );
        assert!(parse_entry_bundle(&[0, 5, 1]).is_err());
        assert!(parse_entry_bundle(&[0]).is_err());
        assert!(encode_entry_bundle(&[vec![0u8; 70_000]]).is_err());
    }
}
