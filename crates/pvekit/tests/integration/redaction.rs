use pvekit::Client;

use crate::util::{self, password_config, token_config};

#[tokio::test]
async fn secrets_stay_out_of_debug_output() {
    let sim = util::sim().await;
    let info = sim.info().clone();
    let pw = password_config(&sim);
    let tok = token_config(&sim);
    let client = Client::connect(&pw).await.unwrap();
    for text in [
        format!("{pw:?}"),
        format!("{tok:?}"),
        format!("{client:?}"),
        format!("{info:?}"),
    ] {
        assert!(!text.contains(&info.password), "{text}");
        assert!(!text.contains(&info.secret), "{text}");
        assert!(!text.contains("PVE:"), "{text}");
    }
}
