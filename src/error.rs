//! The one error type of the library.
//!
//! Every malformed input becomes a value of [`Error`], never a panic. Loaders take
//! bytes, not paths, so they do not know file names; the edge that read the file
//! wraps the error with [`Error::in_file`] so the message names it.

use thiserror::Error as ThisError;

/// Everything that can go wrong in the library.
#[derive(Debug, ThisError)]
pub enum Error {
    /// Wraps another error with the name of the file it came from.
    #[error("{file}: {source}")]
    InFile {
        file: String,
        #[source]
        source: Box<Error>,
    },

    /// The bytes are not a readable zip archive (npz files are zip archives).
    #[error("not a valid zip archive (npz): {0}")]
    Zip(String),

    /// A member of an npz archive is not a valid `.npy` array.
    #[error("npy member '{member}': {reason}")]
    Npy { member: String, reason: String },

    /// The pickle stream uses an opcode, global or structure our restricted
    /// unpickler does not allow. Nothing in it is executed.
    #[error("pickle at byte {offset}: {reason}")]
    Pickle { offset: usize, reason: String },

    /// An array has an element type we cannot use.
    #[error("unsupported dtype: expected {expected}, found '{found}'")]
    Dtype { expected: String, found: String },

    /// A size read from the input is beyond what we accept; checked before allocating.
    #[error("{what} too large: {found} exceeds the limit of {limit}")]
    TooLarge {
        what: String,
        limit: usize,
        found: usize,
    },

    /// A shape does not match what the architecture or format needs.
    #[error("{what}: expected shape {expected:?}, found {found:?}")]
    Shape {
        what: String,
        expected: Vec<usize>,
        found: Vec<usize>,
    },

    /// A weight or input value is NaN or infinite.
    #[error("{what} contains a non-finite value (NaN or infinity)")]
    NonFinite { what: String },

    /// A Magenta `.gen.json` / `.vae.json` file does not follow the format.
    #[error("Magenta model JSON: {0}")]
    Magenta(String),

    /// Our `.safetensors` model file is malformed or of an unknown version.
    #[error("model file: {0}")]
    ModelFile(String),

    /// A Quick, Draw! `.ndjson` line is malformed.
    #[error("ndjson line {line}: {reason}")]
    Ndjson { line: usize, reason: String },

    /// A drawing with no points where one is needed.
    #[error("empty drawing: {0}")]
    EmptyDrawing(String),

    /// A stroke row is malformed (wrong pen state, non-finite offset).
    #[error("stroke row {index}: {reason}")]
    InvalidStroke { index: usize, reason: String },

    /// A numeric argument is outside its valid range (temperature, counts, ...).
    #[error("invalid argument {name}: {reason}")]
    InvalidArgument { name: String, reason: String },

    /// An error from candle's tensor operations.
    #[error("tensor operation: {0}")]
    Candle(#[from] candle_core::Error),
}

/// The library's result type.
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// Wraps this error with the name of the file it came from.
    pub fn in_file(self, file: impl Into<String>) -> Error {
        Error::InFile {
            file: file.into(),
            source: Box::new(self),
        }
    }

    /// Shorthand for [`Error::InvalidArgument`].
    pub fn invalid_argument(name: &str, reason: impl Into<String>) -> Error {
        Error::InvalidArgument {
            name: name.to_string(),
            reason: reason.into(),
        }
    }

    /// The innermost error, looking through [`Error::InFile`] wrappers.
    pub fn root(&self) -> &Error {
        match self {
            Error::InFile { source, .. } => source.root(),
            other => other,
        }
    }
}

/// Adds the file name to the error of a result.
pub trait InFile<T> {
    fn in_file(self, file: &str) -> Result<T>;
}

impl<T> InFile<T> for Result<T> {
    fn in_file(self, file: &str) -> Result<T> {
        self.map_err(|e| e.in_file(file))
    }
}

/// Checks that a size read from the input is within `limit` before allocating.
pub fn check_size(what: &str, found: usize, limit: usize) -> Result<()> {
    if found > limit {
        Err(Error::TooLarge {
            what: what.to_string(),
            limit,
            found,
        })
    } else {
        Ok(())
    }
}
