//! sketch-rnn's `.npz` data files: a zip archive with `train.npy`, `valid.npy` and
//! `test.npy`, each a numpy object array (pickled, see [`super::pickle`]) of
//! stroke-3 arrays `[dx, dy, pen_lifted]` in pixels.

use std::io::{Cursor, Read, Write};

use crate::dataset::pickle::{self, ElementType, NumericArray};
use crate::error::{Error, Result, check_size};
use crate::stroke::Stroke3;

/// One drawing in stroke-3 rows, in pixels.
pub type Drawing = Vec<Stroke3>;

/// The magic bytes that open every `.npy` file.
pub const NPY_MAGIC: &[u8; 6] = b"\x93NUMPY";
/// Largest uncompressed `.npy` member we read (QuickDraw's biggest sketch-rnn file is ~100 MB).
pub const MAX_NPY_BYTES: usize = 1 << 30;
/// Largest `.npy` header we accept.
pub const MAX_NPY_HEADER_BYTES: usize = 1 << 16;
/// Names of the three splits inside a sketch-rnn `.npz`.
pub const SPLIT_NAMES: [&str; 3] = ["train", "valid", "test"];

/// The three splits of a sketch-rnn data file, drawings in pixels.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SketchSplits {
    pub train: Vec<Drawing>,
    pub valid: Vec<Drawing>,
    pub test: Vec<Drawing>,
}

impl SketchSplits {
    /// The split called `name` (`train`, `valid` or `test`).
    pub fn split(&self, name: &str) -> Result<&[Drawing]> {
        match name {
            "train" => Ok(&self.train),
            "valid" => Ok(&self.valid),
            "test" => Ok(&self.test),
            other => Err(Error::invalid_argument(
                "split",
                format!("expected train, valid or test, found '{other}'"),
            )),
        }
    }

    fn split_mut(&mut self, name: &str) -> &mut Vec<Drawing> {
        match name {
            "train" => &mut self.train,
            "valid" => &mut self.valid,
            _ => &mut self.test,
        }
    }
}

/// Reads a sketch-rnn `.npz` from its bytes. Splits absent from the archive are
/// empty; an archive with none of them is an error.
pub fn read_npz(bytes: &[u8]) -> Result<SketchSplits> {
    let mut zip =
        zip::ZipArchive::new(Cursor::new(bytes)).map_err(|e| Error::Zip(e.to_string()))?;
    let mut out = SketchSplits::default();
    let mut found = 0;
    for name in SPLIT_NAMES {
        let member = format!("{name}.npy");
        let mut file = match zip.by_name(&member) {
            Ok(f) => f,
            Err(zip::result::ZipError::FileNotFound) => continue,
            Err(e) => return Err(Error::Zip(format!("{member}: {e}"))),
        };
        check_size(
            &format!("{member} (uncompressed)"),
            file.size() as usize,
            MAX_NPY_BYTES,
        )?;
        let mut data = Vec::with_capacity(file.size() as usize);
        (&mut file)
            .take(MAX_NPY_BYTES as u64 + 1)
            .read_to_end(&mut data)
            .map_err(|e| Error::Zip(format!("{member}: {e}")))?;
        check_size(
            &format!("{member} (uncompressed)"),
            data.len(),
            MAX_NPY_BYTES,
        )?;
        *out.split_mut(name) = read_npy_drawings(&member, &data)?;
        found += 1;
    }
    if found == 0 {
        return Err(Error::Zip(format!(
            "no train.npy, valid.npy or test.npy member (found: {})",
            zip.file_names()
                .filter_map(|n| n.ok())
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    Ok(out)
}

/// The parsed header of a `.npy` member.
#[derive(Debug, PartialEq)]
struct NpyHeader {
    descr: String,
    fortran_order: bool,
    shape: Vec<usize>,
}

fn npy_err(member: &str, reason: impl Into<String>) -> Error {
    Error::Npy {
        member: member.to_string(),
        reason: reason.into(),
    }
}

/// Splits an `.npy` file into its header and body.
fn split_npy<'a>(member: &str, bytes: &'a [u8]) -> Result<(NpyHeader, &'a [u8])> {
    if bytes.len() < 10 || &bytes[..6] != NPY_MAGIC {
        return Err(npy_err(member, "missing the \\x93NUMPY magic"));
    }
    let (len, start) = match bytes[6] {
        1 => (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10),
        2 | 3 if bytes.len() >= 12 => (
            u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize,
            12,
        ),
        v => {
            return Err(npy_err(
                member,
                format!("format version {v} (expected 1, 2 or 3)"),
            ));
        }
    };
    check_size("npy header", len, MAX_NPY_HEADER_BYTES)
        .map_err(|e| npy_err(member, e.to_string()))?;
    if bytes.len() < start + len {
        return Err(npy_err(member, "truncated header"));
    }
    let text = std::str::from_utf8(&bytes[start..start + len])
        .map_err(|_| npy_err(member, "header is not text"))?;
    let header = parse_npy_header(text)
        .ok_or_else(|| npy_err(member, format!("cannot parse header {text:?}")))?;
    Ok((header, &bytes[start + len..]))
}

/// Parses the Python dict literal of an `.npy` header.
fn parse_npy_header(text: &str) -> Option<NpyHeader> {
    let value_after = |key: &str| -> Option<&str> {
        let i = text.find(&format!("'{key}'"))?;
        let rest = &text[i + key.len() + 2..];
        Some(rest.trim_start().strip_prefix(':')?.trim_start())
    };
    let d = value_after("descr")?;
    let quote = d.chars().next()?;
    if quote != '\'' && quote != '"' {
        return None;
    }
    let descr = d[1..].split(quote).next()?.to_string();
    let fortran_order = value_after("fortran_order")?.starts_with("True");
    let s = value_after("shape")?.strip_prefix('(')?;
    let inner = s.split(')').next()?;
    let shape = inner
        .split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| p.trim_end_matches('L').parse().ok())
        .collect::<Option<Vec<usize>>>()?;
    Some(NpyHeader {
        descr,
        fortran_order,
        shape,
    })
}

/// Reads one `.npy` member holding an object array of stroke-3 drawings.
pub fn read_npy_drawings(member: &str, bytes: &[u8]) -> Result<Vec<Drawing>> {
    let (header, body) = split_npy(member, bytes)?;
    if header.descr != "|O" {
        return Err(Error::Dtype {
            expected: format!("{member}: an object array '|O' of drawings"),
            found: header.descr,
        });
    }
    if header.fortran_order || header.shape.len() != 1 {
        return Err(npy_err(
            member,
            format!(
                "expected a 1-D C-ordered array, found shape {:?}",
                header.shape
            ),
        ));
    }
    let arrays = pickle::read_object_array(body).map_err(|e| npy_err(member, e.to_string()))?;
    if arrays.len() != header.shape[0] {
        return Err(npy_err(
            member,
            format!(
                "header says {} drawings, pickle holds {}",
                header.shape[0],
                arrays.len()
            ),
        ));
    }
    arrays
        .iter()
        .enumerate()
        .map(|(i, a)| {
            array_to_drawing(a).map_err(|reason| npy_err(member, format!("drawing {i}: {reason}")))
        })
        .collect()
}

fn array_to_drawing(a: &NumericArray) -> std::result::Result<Drawing, String> {
    if a.shape.len() != 2 || a.shape[1] != 3 {
        return Err(format!("expected shape (n, 3), found {:?}", a.shape));
    }
    let values = a.to_f64();
    let mut out = Vec::with_capacity(a.shape[0]);
    for (row, v) in values.chunks_exact(3).enumerate() {
        if !v[0].is_finite() || !v[1].is_finite() {
            return Err(format!("row {row} has a non-finite offset"));
        }
        if v[2] != 0.0 && v[2] != 1.0 {
            return Err(format!(
                "row {row}: pen_lifted must be 0 or 1, found {}",
                v[2]
            ));
        }
        out.push([v[0] as f32, v[1] as f32, v[2] as f32]);
    }
    Ok(out)
}

/// A drawing as a numpy array: int16 when every value is an integer in range
/// (as in sketch-rnn's own files), float32 otherwise.
fn drawing_to_array(d: &Drawing) -> NumericArray {
    let ints = d
        .iter()
        .flatten()
        .all(|&v| v.fract() == 0.0 && (i16::MIN as f32..=i16::MAX as f32).contains(&v));
    let (element, data) = if ints {
        let data = d
            .iter()
            .flatten()
            .flat_map(|&v| (v as i16).to_le_bytes())
            .collect();
        (ElementType::I16, data)
    } else {
        let data = d.iter().flatten().flat_map(|&v| v.to_le_bytes()).collect();
        (ElementType::F32, data)
    };
    NumericArray {
        shape: vec![d.len(), 3],
        element,
        big_endian: false,
        data,
    }
}

/// Writes one split as an `.npy` file in numpy 1.x's layout (header padded to 16 bytes).
pub fn write_npy_drawings(drawings: &[Drawing]) -> Vec<u8> {
    let arrays: Vec<NumericArray> = drawings.iter().map(drawing_to_array).collect();
    let mut header = format!(
        "{{'descr': '|O', 'fortran_order': False, 'shape': ({},), }}",
        drawings.len()
    );
    let total = NPY_MAGIC.len() + 4 + header.len() + 1;
    header.push_str(&" ".repeat((16 - total % 16) % 16));
    header.push('\n');
    let mut out = Vec::new();
    out.extend_from_slice(NPY_MAGIC);
    out.extend_from_slice(&[1, 0]);
    out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    out.extend_from_slice(&pickle::write_object_array(&arrays));
    out
}

/// Writes the three splits as a deflated `.npz` archive.
pub fn write_npz(splits: &SketchSplits) -> Result<Vec<u8>> {
    let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .large_file(false);
    for name in SPLIT_NAMES {
        let npy = write_npy_drawings(splits.split(name)?);
        zip.start_file(format!("{name}.npy"), options)
            .map_err(|e| Error::Zip(e.to_string()))?;
        zip.write_all(&npy).map_err(|e| Error::Zip(e.to_string()))?;
    }
    let cursor = zip.finish().map_err(|e| Error::Zip(e.to_string()))?;
    Ok(cursor.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_parses_python_literals() {
        let h =
            parse_npy_header("{'descr': '|O', 'fortran_order': False, 'shape': (300,), }").unwrap();
        assert_eq!(
            h,
            NpyHeader {
                descr: "|O".into(),
                fortran_order: false,
                shape: vec![300]
            }
        );
        let h =
            parse_npy_header("{'descr': '<i2', 'fortran_order': True, 'shape': (4, 3), }").unwrap();
        assert_eq!(h.shape, vec![4, 3]);
        assert!(h.fortran_order);
    }
}
