//! A restricted unpickler for the numpy object arrays inside sketch-rnn `.npz` files,
//! and the matching pickler.
//!
//! A pickle is a program for a stack machine that may call any Python function.
//! We never execute anything: this is an interpreter for the handful of opcodes
//! numpy's pickles use, and it knows exactly four callables by name
//! ([`ALLOWED_GLOBALS`]); anything else is an [`Error::Pickle`].
//!
//! Sizes come from the input and are checked against the bytes remaining before
//! anything is allocated, so a hostile file cannot make us allocate more than its
//! own length.

use std::collections::HashMap;
use std::rc::Rc;

use crate::error::{Error, Result};

/// The only Python globals the unpickler resolves (module, name).
pub const ALLOWED_GLOBALS: [(&str, &str); 7] = [
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    // protocol 5: numpy pickles numeric arrays as _frombuffer(buffer, dtype, shape, order)
    ("numpy.core.numeric", "_frombuffer"),
    ("numpy._core.numeric", "_frombuffer"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("_codecs", "encode"),
];

/// Most elements an object array may hold (far above QuickDraw's 70k/2.5k/2.5k splits).
pub const MAX_OBJECT_ELEMENTS: usize = 10_000_000;

/// A numpy element type as written in a dtype descriptor, e.g. `<i2`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ElementType {
    I8,
    I16,
    I32,
    I64,
    U8,
    U16,
    F32,
    F64,
}

impl ElementType {
    /// Parses the type part of a descriptor (`i2`, `f8`, ...).
    fn parse(code: &str) -> Option<ElementType> {
        Some(match code {
            "i1" => ElementType::I8,
            "i2" => ElementType::I16,
            "i4" => ElementType::I32,
            "i8" => ElementType::I64,
            "u1" => ElementType::U8,
            "u2" => ElementType::U16,
            "f4" => ElementType::F32,
            "f8" => ElementType::F64,
            _ => return None,
        })
    }

    /// Bytes per element.
    pub fn size(self) -> usize {
        match self {
            ElementType::I8 | ElementType::U8 => 1,
            ElementType::I16 | ElementType::U16 => 2,
            ElementType::I32 | ElementType::F32 => 4,
            ElementType::I64 | ElementType::F64 => 8,
        }
    }

    /// The numpy type code, e.g. `i2`.
    pub fn code(self) -> &'static str {
        match self {
            ElementType::I8 => "i1",
            ElementType::I16 => "i2",
            ElementType::I32 => "i4",
            ElementType::I64 => "i8",
            ElementType::U8 => "u1",
            ElementType::U16 => "u2",
            ElementType::F32 => "f4",
            ElementType::F64 => "f8",
        }
    }
}

/// A numeric array decoded from a pickle: shape, type and raw element bytes in
/// the order and byte order they were stored.
#[derive(Debug, Clone, PartialEq)]
pub struct NumericArray {
    pub shape: Vec<usize>,
    pub element: ElementType,
    pub big_endian: bool,
    pub data: Vec<u8>,
}

impl NumericArray {
    /// The elements as `f64` (exact for every supported type but 64-bit integers beyond 2^53).
    pub fn to_f64(&self) -> Vec<f64> {
        let n = self.element.size();
        self.data
            .chunks_exact(n)
            .map(|c| {
                let mut b = [0u8; 8];
                b[..n].copy_from_slice(c);
                if self.big_endian {
                    b[..n].reverse();
                }
                match self.element {
                    ElementType::I8 => b[0] as i8 as f64,
                    ElementType::U8 => b[0] as f64,
                    ElementType::I16 => i16::from_le_bytes([b[0], b[1]]) as f64,
                    ElementType::U16 => u16::from_le_bytes([b[0], b[1]]) as f64,
                    ElementType::I32 => i32::from_le_bytes([b[0], b[1], b[2], b[3]]) as f64,
                    ElementType::F32 => f32::from_le_bytes([b[0], b[1], b[2], b[3]]) as f64,
                    ElementType::I64 => i64::from_le_bytes(b) as f64,
                    ElementType::F64 => f64::from_le_bytes(b),
                }
            })
            .collect()
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Global {
    Reconstruct,
    FromBuffer,
    NdArray,
    Dtype,
    CodecsEncode,
}

/// A pickled value. Containers live in the machine's arena and are referred to
/// by index, so values never nest in memory: no input can make dropping or
/// walking them recurse deeply.
#[derive(Debug, Clone)]
enum Value {
    None,
    Bool(bool),
    Int(i64),
    Float,
    Str(Rc<String>),
    Bytes(Rc<Vec<u8>>),
    Global(Global),
    Tuple(usize),
    List(usize),
    Array(usize),
    Dtype(usize),
}

#[derive(Debug)]
struct DtypeObj {
    descr: String,
    byte_order: Option<char>,
}

#[derive(Debug, Default)]
struct ArrayObj {
    built: bool,
    shape: Vec<usize>,
    dtype: Option<usize>,
    bytes: Option<Rc<Vec<u8>>>,
    objects: Option<usize>,
}

#[derive(Debug)]
enum Obj {
    Tuple(Vec<Value>),
    List(Vec<Value>),
    Array(ArrayObj),
    Dtype(DtypeObj),
}

impl Value {
    fn kind(&self) -> &'static str {
        match self {
            Value::None => "None",
            Value::Bool(_) => "bool",
            Value::Int(_) => "int",
            Value::Float => "float",
            Value::Str(_) => "str",
            Value::Bytes(_) => "bytes",
            Value::Tuple(_) => "tuple",
            Value::List(_) => "list",
            Value::Global(_) => "global",
            Value::Array(_) => "ndarray",
            Value::Dtype(_) => "dtype",
        }
    }

    /// Text of a `str`, or of a Python 2 `str` (bytes).
    fn text(&self) -> Option<String> {
        match self {
            Value::Str(s) => Some(s.to_string()),
            Value::Bytes(b) => Some(b.iter().map(|&c| c as char).collect()),
            _ => None,
        }
    }
}

struct Machine<'a> {
    input: &'a [u8],
    pos: usize,
    stack: Vec<Value>,
    marks: Vec<usize>,
    memo: HashMap<u32, Value>,
    objects: Vec<Obj>,
}

impl<'a> Machine<'a> {
    fn err(&self, reason: impl Into<String>) -> Error {
        Error::Pickle {
            offset: self.pos,
            reason: reason.into(),
        }
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        if n > self.input.len() - self.pos {
            return Err(self.err(format!(
                "needs {n} more bytes but only {} remain (truncated)",
                self.input.len() - self.pos
            )));
        }
        let s = &self.input[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    fn u8(&mut self) -> Result<u8> {
        Ok(self.take(1)?[0])
    }

    fn u16(&mut self) -> Result<u16> {
        let b = self.take(2)?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    }

    fn u32(&mut self) -> Result<u32> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn u64_len(&mut self) -> Result<usize> {
        let b = self.take(8)?;
        let v = u64::from_le_bytes(b.try_into().expect("8 bytes"));
        usize::try_from(v).map_err(|_| self.err("length does not fit in memory"))
    }

    fn line(&mut self) -> Result<&'a str> {
        let rest = &self.input[self.pos..];
        let end = rest
            .iter()
            .position(|&c| c == b'\n')
            .ok_or_else(|| self.err("unterminated text line"))?;
        let s =
            std::str::from_utf8(&rest[..end]).map_err(|_| self.err("text line is not UTF-8"))?;
        self.pos += end + 1;
        Ok(s)
    }

    fn pop(&mut self) -> Result<Value> {
        if self.marks.last().is_some_and(|&m| m >= self.stack.len()) {
            return Err(self.err("stack underflow past a mark"));
        }
        self.stack.pop().ok_or_else(|| self.err("stack underflow"))
    }

    fn pop_mark(&mut self) -> Result<Vec<Value>> {
        let m = self
            .marks
            .pop()
            .ok_or_else(|| self.err("no mark on the stack"))?;
        Ok(self.stack.split_off(m))
    }

    fn top(&self) -> Result<&Value> {
        self.stack.last().ok_or_else(|| self.err("empty stack"))
    }

    fn alloc(&mut self, obj: Obj) -> usize {
        self.objects.push(obj);
        self.objects.len() - 1
    }

    fn push_tuple(&mut self, items: Vec<Value>) {
        let id = self.alloc(Obj::Tuple(items));
        self.stack.push(Value::Tuple(id));
    }

    fn tuple(&self, v: &Value) -> Option<&[Value]> {
        match v {
            Value::Tuple(id) => match &self.objects[*id] {
                Obj::Tuple(items) => Some(items),
                _ => None,
            },
            _ => None,
        }
    }

    fn bytes(&mut self, n: usize) -> Result<Value> {
        Ok(Value::Bytes(Rc::new(self.take(n)?.to_vec())))
    }

    fn unicode(&mut self, n: usize) -> Result<Value> {
        let b = self.take(n)?;
        let s = std::str::from_utf8(b).map_err(|_| self.err("string is not UTF-8"))?;
        Ok(Value::Str(Rc::new(s.to_string())))
    }

    fn global(&self, module: &str, name: &str) -> Result<Value> {
        let allowed = ALLOWED_GLOBALS
            .iter()
            .any(|&(m, n)| m == module && n == name);
        if !allowed {
            return Err(self.err(format!(
                "global {module}.{name} is not allowed (only numpy arrays of numbers are read)"
            )));
        }
        Ok(Value::Global(match name {
            "_reconstruct" => Global::Reconstruct,
            "_frombuffer" => Global::FromBuffer,
            "ndarray" => Global::NdArray,
            "dtype" => Global::Dtype,
            _ => Global::CodecsEncode,
        }))
    }

    fn memo_put(&mut self, key: u32) -> Result<()> {
        let v = self.top()?.clone();
        self.memo.insert(key, v);
        Ok(())
    }

    fn memo_get(&mut self, key: u32) -> Result<()> {
        let v = self
            .memo
            .get(&key)
            .cloned()
            .ok_or_else(|| self.err(format!("memo key {key} was never stored")))?;
        self.stack.push(v);
        Ok(())
    }

    fn shape(&self, shape: &Value) -> Result<Vec<usize>> {
        let items = self
            .tuple(shape)
            .ok_or_else(|| self.err("ndarray shape must be a tuple"))?;
        items
            .iter()
            .map(|d| match d {
                Value::Int(n) if *n >= 0 => Ok(*n as usize),
                _ => Err(self.err("ndarray shape must hold non-negative ints")),
            })
            .collect()
    }

    fn reduce(&mut self, callable: Value, args: Value) -> Result<Value> {
        let args = self
            .tuple(&args)
            .ok_or_else(|| {
                self.err(format!(
                    "REDUCE arguments must be a tuple, found {}",
                    args.kind()
                ))
            })?
            .to_vec();
        match callable {
            Value::Global(Global::Reconstruct) => match args.first() {
                Some(Value::Global(Global::NdArray)) => {
                    Ok(Value::Array(self.alloc(Obj::Array(ArrayObj::default()))))
                }
                _ => Err(self.err("_reconstruct may only build numpy.ndarray")),
            },
            Value::Global(Global::FromBuffer) => {
                let [Value::Bytes(data), Value::Dtype(dtype), shape, order] = args.as_slice()
                else {
                    return Err(self.err("_frombuffer needs (buffer, dtype, shape, order)"));
                };
                if order.text().as_deref() != Some("C") {
                    return Err(self.err("only C-ordered buffers are supported"));
                }
                let shape = self.shape(shape)?;
                let array = ArrayObj {
                    built: true,
                    shape,
                    dtype: Some(*dtype),
                    bytes: Some(data.clone()),
                    objects: None,
                };
                Ok(Value::Array(self.alloc(Obj::Array(array))))
            }
            Value::Global(Global::Dtype) => {
                let descr = args
                    .first()
                    .and_then(Value::text)
                    .ok_or_else(|| self.err("dtype() needs a descriptor string"))?;
                Ok(Value::Dtype(self.alloc(Obj::Dtype(DtypeObj {
                    descr,
                    byte_order: None,
                }))))
            }
            Value::Global(Global::CodecsEncode) => {
                let (Some(Value::Str(text)), Some(enc)) =
                    (args.first(), args.get(1).and_then(Value::text))
                else {
                    return Err(self.err("_codecs.encode needs (str, encoding)"));
                };
                if enc != "latin1" && enc != "latin-1" {
                    return Err(self.err(format!(
                        "_codecs.encode with encoding '{enc}' (only latin1)"
                    )));
                }
                let mut out = Vec::with_capacity(text.len());
                for ch in text.chars() {
                    let c = u32::from(ch);
                    if c > 255 {
                        return Err(self.err("latin1 string has a character above U+00FF"));
                    }
                    out.push(c as u8);
                }
                Ok(Value::Bytes(Rc::new(out)))
            }
            other => Err(self.err(format!("cannot call a {}", other.kind()))),
        }
    }

    fn build(&mut self, target: &Value, state: Value) -> Result<()> {
        let fields = self
            .tuple(&state)
            .ok_or_else(|| {
                self.err(format!(
                    "BUILD state must be a tuple, found {}",
                    state.kind()
                ))
            })?
            .to_vec();
        match *target {
            Value::Dtype(id) => {
                let order = fields
                    .get(1)
                    .and_then(Value::text)
                    .and_then(|s| s.chars().next());
                if let Obj::Dtype(d) = &mut self.objects[id] {
                    d.byte_order = order;
                }
                Ok(())
            }
            Value::Array(id) => {
                let [_version, shape, dtype, fortran, data] = fields.as_slice() else {
                    return Err(self.err(format!(
                        "ndarray state has {} fields, expected 5",
                        fields.len()
                    )));
                };
                let dims = self.shape(shape)?;
                let Value::Dtype(dtype) = dtype else {
                    return Err(self.err("ndarray dtype must be a numpy.dtype"));
                };
                if matches!(fortran, Value::Bool(true)) {
                    return Err(self.err("Fortran-ordered arrays are not supported"));
                }
                let (bytes, objects) = match data {
                    Value::Bytes(b) => (Some(b.clone()), None),
                    Value::List(l) => (None, Some(*l)),
                    other => {
                        return Err(self.err(format!(
                            "ndarray data must be bytes or a list, found {}",
                            other.kind()
                        )));
                    }
                };
                if let Obj::Array(a) = &mut self.objects[id] {
                    *a = ArrayObj {
                        built: true,
                        shape: dims,
                        dtype: Some(*dtype),
                        bytes,
                        objects,
                    };
                }
                Ok(())
            }
            ref other => Err(self.err(format!("BUILD on a {} is not allowed", other.kind()))),
        }
    }

    fn list_mut(&mut self, target: &Value, op: &str) -> Result<&mut Vec<Value>> {
        let err = self.err(format!("{op} to a non-list"));
        match *target {
            Value::List(id) => match &mut self.objects[id] {
                Obj::List(items) => Ok(items),
                _ => Err(err),
            },
            _ => Err(err),
        }
    }

    fn run(&mut self) -> Result<Value> {
        loop {
            let op = self.u8()?;
            match op {
                0x80 => {
                    let proto = self.u8()?;
                    if proto > 5 {
                        return Err(self.err(format!("pickle protocol {proto} (expected 2 to 5)")));
                    }
                }
                0x95 => {
                    self.u64_len()?;
                }
                b'c' => {
                    let module = self.line()?.to_string();
                    let name = self.line()?.to_string();
                    let g = self.global(&module, &name)?;
                    self.stack.push(g);
                }
                0x93 => {
                    let name = self.pop()?.text();
                    let module = self.pop()?.text();
                    let (Some(module), Some(name)) = (module, name) else {
                        return Err(self.err("STACK_GLOBAL needs two strings"));
                    };
                    let g = self.global(&module, &name)?;
                    self.stack.push(g);
                }
                b'q' => {
                    let k = self.u8()? as u32;
                    self.memo_put(k)?;
                }
                b'r' => {
                    let k = self.u32()?;
                    self.memo_put(k)?;
                }
                0x94 => {
                    let k = self.memo.len() as u32;
                    self.memo_put(k)?;
                }
                b'h' => {
                    let k = self.u8()? as u32;
                    self.memo_get(k)?;
                }
                b'j' => {
                    let k = self.u32()?;
                    self.memo_get(k)?;
                }
                b'K' => {
                    let v = self.u8()?;
                    self.stack.push(Value::Int(v as i64));
                }
                b'M' => {
                    let v = self.u16()?;
                    self.stack.push(Value::Int(v as i64));
                }
                b'J' => {
                    let v = self.u32()? as i32;
                    self.stack.push(Value::Int(v as i64));
                }
                0x8a => {
                    let n = self.u8()? as usize;
                    if n > 8 {
                        return Err(self.err(format!("LONG1 of {n} bytes does not fit in 64 bits")));
                    }
                    let b = self.take(n)?;
                    let mut v: i64 = 0;
                    for (i, &byte) in b.iter().enumerate() {
                        v |= (byte as i64) << (8 * i);
                    }
                    if n > 0 && n < 8 && b[n - 1] & 0x80 != 0 {
                        v -= 1i64 << (8 * n);
                    }
                    self.stack.push(Value::Int(v));
                }
                b'G' => {
                    self.take(8)?;
                    self.stack.push(Value::Float);
                }
                b'N' => self.stack.push(Value::None),
                0x88 => self.stack.push(Value::Bool(true)),
                0x89 => self.stack.push(Value::Bool(false)),
                b'U' | b'C' => {
                    let n = self.u8()? as usize;
                    let v = self.bytes(n)?;
                    self.stack.push(v);
                }
                0x96 => {
                    let n = self.u64_len()?;
                    let v = self.bytes(n)?;
                    self.stack.push(v);
                }
                b'T' | b'B' => {
                    let n = self.u32()? as usize;
                    let v = self.bytes(n)?;
                    self.stack.push(v);
                }
                0x8e => {
                    let n = self.u64_len()?;
                    let v = self.bytes(n)?;
                    self.stack.push(v);
                }
                0x8c => {
                    let n = self.u8()? as usize;
                    let v = self.unicode(n)?;
                    self.stack.push(v);
                }
                b'X' => {
                    let n = self.u32()? as usize;
                    let v = self.unicode(n)?;
                    self.stack.push(v);
                }
                0x8d => {
                    let n = self.u64_len()?;
                    let v = self.unicode(n)?;
                    self.stack.push(v);
                }
                b'(' => self.marks.push(self.stack.len()),
                b')' => self.push_tuple(Vec::new()),
                b't' => {
                    let items = self.pop_mark()?;
                    self.push_tuple(items);
                }
                0x85..=0x87 => {
                    let n = (op - 0x84) as usize;
                    let mut items = Vec::with_capacity(n);
                    for _ in 0..n {
                        items.push(self.pop()?);
                    }
                    items.reverse();
                    self.push_tuple(items);
                }
                b']' => {
                    let id = self.alloc(Obj::List(Vec::new()));
                    self.stack.push(Value::List(id));
                }
                b'l' => {
                    let items = self.pop_mark()?;
                    let id = self.alloc(Obj::List(items));
                    self.stack.push(Value::List(id));
                }
                b'a' => {
                    let v = self.pop()?;
                    let target = self.top()?.clone();
                    let list = self.list_mut(&target, "APPEND")?;
                    list.push(v);
                    let n = list.len();
                    check_len(self, n)?;
                }
                b'e' => {
                    let items = self.pop_mark()?;
                    let target = self.top()?.clone();
                    let list = self.list_mut(&target, "APPENDS")?;
                    list.extend(items);
                    let n = list.len();
                    check_len(self, n)?;
                }
                b'R' => {
                    let args = self.pop()?;
                    let callable = self.pop()?;
                    let v = self.reduce(callable, args)?;
                    self.stack.push(v);
                }
                b'b' => {
                    let state = self.pop()?;
                    let target = self.top()?.clone();
                    self.build(&target, state)?;
                }
                b'.' => {
                    let v = self.pop()?;
                    return Ok(v);
                }
                other => {
                    return Err(self.err(format!(
                        "opcode 0x{other:02x} is not allowed in a numpy array pickle"
                    )));
                }
            }
        }
    }

    fn numeric_array(&self, arr: &ArrayObj) -> Result<NumericArray> {
        let err = |reason: String| Error::Pickle {
            offset: self.pos,
            reason,
        };
        let d = match arr.dtype.map(|id| &self.objects[id]) {
            Some(Obj::Dtype(d)) => d,
            _ => return Err(err("array without dtype".into())),
        };
        let element = ElementType::parse(&d.descr).ok_or_else(|| Error::Dtype {
            expected: "a numeric dtype (i1, i2, i4, i8, u1, u2, f4, f8)".into(),
            found: d.descr.clone(),
        })?;
        let data = arr
            .bytes
            .as_ref()
            .ok_or_else(|| err("numeric array without a data buffer".into()))?;
        let count = arr
            .shape
            .iter()
            .try_fold(1usize, |acc, &n| acc.checked_mul(n))
            .ok_or_else(|| err(format!("shape {:?} overflows", arr.shape)))?;
        if count.checked_mul(element.size()) != Some(data.len()) {
            return Err(err(format!(
                "shape {:?} of {} needs {} bytes, data has {}",
                arr.shape,
                element.code(),
                count.saturating_mul(element.size()),
                data.len()
            )));
        }
        Ok(NumericArray {
            shape: arr.shape.clone(),
            element,
            big_endian: d.byte_order == Some('>'),
            data: data.to_vec(),
        })
    }
}

fn check_len(m: &Machine, n: usize) -> Result<()> {
    if n > MAX_OBJECT_ELEMENTS {
        return Err(m.err(format!("list of {n} items exceeds {MAX_OBJECT_ELEMENTS}")));
    }
    Ok(())
}

/// Unpickles a numpy object array whose elements are numeric arrays (the body of an
/// `.npy` member with descr `|O`). Returns the elements in order.
pub fn read_object_array(pickle: &[u8]) -> Result<Vec<NumericArray>> {
    let mut m = Machine {
        input: pickle,
        pos: 0,
        stack: Vec::new(),
        marks: Vec::new(),
        memo: HashMap::new(),
        objects: Vec::new(),
    };
    let top = m.run()?;
    let err = |reason: String| Error::Pickle {
        offset: m.pos,
        reason,
    };
    let Value::Array(outer) = top else {
        return Err(err(format!(
            "expected a numpy.ndarray, found {}",
            top.kind()
        )));
    };
    let Obj::Array(outer) = &m.objects[outer] else {
        return Err(err("corrupt object table".into()));
    };
    let items = match outer.objects.map(|id| &m.objects[id]) {
        Some(Obj::List(items)) => items,
        _ => {
            let found = match outer.dtype.map(|id| &m.objects[id]) {
                Some(Obj::Dtype(d)) => d.descr.clone(),
                _ => String::new(),
            };
            return Err(Error::Dtype {
                expected: "an object array (|O) of drawings".into(),
                found,
            });
        }
    };
    items
        .iter()
        .map(|v| match v {
            Value::Array(id) => match &m.objects[*id] {
                Obj::Array(a) if a.built => m.numeric_array(a),
                _ => Err(err("object array element is an unbuilt ndarray".into())),
            },
            other => Err(err(format!(
                "object array element is a {}, expected a numeric ndarray",
                other.kind()
            ))),
        })
        .collect()
}

/// Writes an object array of numeric arrays as a protocol-2 pickle, in exactly the
/// layout numpy 1.x under Python 2 produced for sketch-rnn's data sets (so
/// re-writing one of those files reproduces its `.npy` members byte for byte).
pub fn write_object_array(elements: &[NumericArray]) -> Vec<u8> {
    let mut w = Writer {
        out: Vec::with_capacity(elements.iter().map(|e| e.data.len() + 40).sum::<usize>() + 256),
        next_memo: 1,
    };
    let o = &mut w;
    o.out
        .extend_from_slice(b"\x80\x02cnumpy.core.multiarray\n_reconstruct\n");
    o.put(); // 1: _reconstruct
    o.out.extend_from_slice(b"cnumpy\nndarray\n");
    o.put(); // 2: ndarray
    o.out.extend_from_slice(b"K\x00\x85U\x01b\x87R");
    o.put(); // 3: the outer array
    o.out.extend_from_slice(b"(K\x01");
    o.int(elements.len() as u64);
    o.out.extend_from_slice(b"\x85cnumpy\ndtype\n");
    o.put(); // 4: dtype
    o.out.extend_from_slice(b"U\x02O8K\x00K\x01\x87R");
    o.put(); // 5: object dtype
    o.out
        .extend_from_slice(b"(K\x03U\x01|NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK?tb\x89]");
    o.put(); // the list
    let mut dtype_memo: HashMap<(ElementType, bool), u32> = HashMap::new();
    // Python's pickler appends list items in batches of 1000 (pickle.Pickler._BATCHSIZE).
    for batch in elements.chunks(1000) {
        if batch.len() > 1 {
            o.out.push(b'(');
        }
        for e in batch {
            o.out.extend_from_slice(b"h\x01h\x02K\x00\x85U\x01b\x87R");
            o.put();
            o.out.extend_from_slice(b"(K\x01");
            // shape tuple: items first, then TUPLEn (or MARK ... TUPLE for ndim > 3)
            if e.shape.len() > 3 {
                o.out.push(b'(');
            }
            for &d in &e.shape {
                o.int(d as u64);
            }
            o.out.push(match e.shape.len() {
                0 => b')',
                1 => 0x85,
                2 => 0x86,
                3 => 0x87,
                _ => b't',
            });
            let key = (e.element, e.big_endian);
            if let Some(&m) = dtype_memo.get(&key) {
                o.get(m);
            } else {
                o.out.extend_from_slice(b"h\x04U\x02");
                o.out.extend_from_slice(e.element.code().as_bytes());
                o.out.extend_from_slice(b"K\x00K\x01\x87R");
                dtype_memo.insert(key, o.next_memo);
                o.put();
                let order = if e.element.size() == 1 {
                    b'|'
                } else if e.big_endian {
                    b'>'
                } else {
                    b'<'
                };
                o.out.extend_from_slice(b"(K\x03U\x01");
                o.out.push(order);
                o.out
                    .extend_from_slice(b"NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00tb");
            }
            o.out.push(0x89);
            if e.data.len() < 256 {
                o.out.push(b'U');
                o.out.push(e.data.len() as u8);
            } else {
                o.out.push(b'T');
                o.out
                    .extend_from_slice(&(e.data.len() as u32).to_le_bytes());
            }
            o.out.extend_from_slice(&e.data);
            o.out.extend_from_slice(b"tb");
        }
        o.out.push(if batch.len() > 1 { b'e' } else { b'a' });
    }
    o.out.extend_from_slice(b"tb.");
    w.out
}

struct Writer {
    out: Vec<u8>,
    next_memo: u32,
}

impl Writer {
    fn put(&mut self) {
        let k = self.next_memo;
        self.next_memo += 1;
        if k < 256 {
            self.out.extend_from_slice(&[b'q', k as u8]);
        } else {
            self.out.push(b'r');
            self.out.extend_from_slice(&k.to_le_bytes());
        }
    }

    fn get(&mut self, k: u32) {
        if k < 256 {
            self.out.extend_from_slice(&[b'h', k as u8]);
        } else {
            self.out.push(b'j');
            self.out.extend_from_slice(&k.to_le_bytes());
        }
    }

    fn int(&mut self, v: u64) {
        if v < 256 {
            self.out.extend_from_slice(&[b'K', v as u8]);
        } else if v < 65536 {
            self.out.push(b'M');
            self.out.extend_from_slice(&(v as u16).to_le_bytes());
        } else {
            self.out.push(b'J');
            self.out.extend_from_slice(&(v as u32).to_le_bytes());
        }
    }
}
