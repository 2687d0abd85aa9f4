//! sketch-rnn (Ha & Eck, "A Neural Representation of Sketch Drawings", 2017) in Rust.
//!
//! Map of the crate, one concept per module:
//! * [`stroke`]: stroke-3 / stroke-5 / polyline formats, RDP simplification, geometry.
//! * [`dataset`]: sketch-rnn `.npz` (restricted unpickler), Quick, Draw! `.ndjson`, batching.
//! * [`model`]: the network (cells, encoder, decoder, mixture head, loss) in candle.
//! * [`sample`]: drawing from the model: temperature, completion, interpolation.
//! * [`session`]: the checked, platform-neutral API a front end uses (all input validation).
//! * `web` (wasm32 only): the `#[wasm_bindgen]` facade over [`session`].
//! * [`weights`]: model files: ours (`.safetensors`) and Magenta's JSON.
//! * [`render`]: SVG (and natively PNG) pictures of drawings.
//! * [`shape_distance`]: how closely a reconstruction keeps its input's layout (Chamfer distance, retrieval).
//! * [`rng`]: the seedable generator shared by native and wasm.
//! * [`error`]: the one error type.

pub mod dataset;
pub mod error;
pub mod model;
pub mod render;
pub mod rng;
pub mod sample;
pub mod session;
pub mod shape_distance;
pub mod stroke;
#[cfg(target_arch = "wasm32")]
pub mod web;
pub mod weights;

pub use error::{Error, Result};
#[cfg(not(target_arch = "wasm32"))]
pub mod train;
