//! X.509 chains for COSE `x5chain`: the input is a Signed Statement (its protected header 33)
//! or the bare header value (one DER certificate or an array of them, leaf first), validated
//! against the seed root and the chain's own last certificate; any bytes as a PEM or DER
//! certificate. Nothing panics, whatever the certificates say.
#![no_main]
use ciborium::value::Value;
use libfuzzer_sys::fuzz_target;
use sbomit_scitt::cose::{decode_strict, SignedStatement};
use sbomit_scitt::x509::{certificate_der, validate_chain};

const ROOT: &[u8] = include_bytes!("../seeds/fixtures/x5chain_root.der");

fn chain_of(value: &Value) -> Option<Vec<Vec<u8>>> {
    match value {
        Value::Bytes(b) => Some(vec![b.clone()]),
        Value::Array(items) => items
            .iter()
            .map(|i| match i {
                Value::Bytes(b) => Some(b.clone()),
                _ => None,
            })
            .collect(),
        _ => None,
    }
}

fuzz_target!(|data: &[u8]| {
    let _ = certificate_der(data);
    let (chain, iss) = match SignedStatement::parse(data) {
        Ok(st) => (
            st.message().protected().get_int(33).and_then(chain_of),
            st.iss().to_owned(),
        ),
        Err(_) => (
            decode_strict(data, "x5chain")
                .ok()
                .as_ref()
                .and_then(chain_of),
            sbomit_fuzz::X5_ISSUER.to_owned(),
        ),
    };
    let Some(chain) = chain else {
        return;
    };
    let mut anchors = vec![ROOT.to_vec()];
    anchors.extend(chain.last().cloned());
    let _ = validate_chain(&chain, &anchors, &iss, sbomit_fuzz::X5_NOW);
    let _ = validate_chain(&chain, &anchors, &iss, i64::MIN);
    let _ = validate_chain(&chain, &[], &iss, sbomit_fuzz::X5_NOW);
});
