//! Making two dates comparable: co-registration ([`coreg`]), radiometric normalisation
//! ([`radiometry`]) and masks of what was not really observed ([`masks`]).

pub mod coreg;
pub mod masks;
pub mod radiometry;
