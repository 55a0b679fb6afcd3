//! OUTBOUND mail: the durable send queue and the SMTP sender (lettre).
//! (Being written: see the contract in the module docs once it lands.)
