//! Byte-exact checks of how the wire shapes read and write JSON, shared by the APIM
//! and API Center type tests: a change to a serde attribute shows up as a changed
//! body here, not as a request the service later rejects.

use serde::Serialize;
use serde::de::DeserializeOwned;

/// Reads `body` as `T` and writes it back as compact JSON text, so key order and
/// every byte are compared, not just the JSON value.
fn rewritten<T: DeserializeOwned + Serialize>(body: &str) -> String {
    let value: T = serde_json::from_str(body).unwrap();
    serde_json::to_string(&value).unwrap()
}

/// Each case is `(body read, exact body written back)`. Also checks that a default
/// value (the start of every body built in code) is written like `{}` read back.
pub(crate) fn assert_wire_form<T>(cases: &[(&str, &str)])
where
    T: DeserializeOwned + Serialize + Default,
{
    for (read, written) in cases {
        assert_eq!(rewritten::<T>(read), *written, "reading {read}");
    }
    assert_eq!(
        serde_json::to_string(&T::default()).unwrap(),
        rewritten::<T>("{}")
    );
}
