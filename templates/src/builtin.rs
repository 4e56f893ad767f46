//! The built-in templates of the hazardous-chemicals industry.
