//! A TIFF tag value as the writers emit it (TIFF 6.0, section 2: SHORT 3, LONG 4,
//! ASCII 2, DOUBLE 12), little-endian: the strip writer ([`super::write`]), the tiled
//! writer ([`super::write_tiled`]) and the COG writer ([`super::cog`]) share it.

/// A TIFF tag value (the types the writers need).
pub(crate) enum Val {
    Short(Vec<u16>),
    Long(Vec<u32>),
    Ascii(String),
    Double(Vec<f64>),
}

impl Val {
    pub(crate) fn type_count(&self) -> (u16, u32) {
        match self {
            Val::Short(v) => (3, v.len() as u32),
            Val::Long(v) => (4, v.len() as u32),
            Val::Ascii(s) => (2, s.len() as u32 + 1),
            Val::Double(v) => (12, v.len() as u32),
        }
    }
    pub(crate) fn bytes(&self) -> Vec<u8> {
        match self {
            Val::Short(v) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
            Val::Long(v) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
            Val::Ascii(s) => {
                let mut b = s.as_bytes().to_vec();
                b.push(0);
                b
            }
            Val::Double(v) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
        }
    }
}
