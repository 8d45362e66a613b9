//! What only a driver needs: the pieces a transport uses to move bytes by kie-proto's
//! rules. A user of `kie-blocking` or `kie-async` never touches them; someone writing a
//! transport of their own (see `examples/custom_transport.rs`) does.

mod call;
mod interim;

pub use call::{Attempt, Call, Moment, Next};

pub use interim::{AnswerHead, check_final_status, next_answer_head, skip_interim};
