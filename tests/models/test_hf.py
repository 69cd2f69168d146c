"""The Hugging Face wrapper (optional extra): Auto* loading, identical logits, generate."""

import pytest
import torch

transformers = pytest.importorskip("transformers")

from prismlm.models import PrizmaSeqConfig, PrizmaSeqLM, TransformerConfig, TransformerLM  # noqa: E402
from prismlm.models.hf import PrismlmForCausalLM  # noqa: E402


@pytest.mark.parametrize("build", [
    lambda: PrizmaSeqLM(PrizmaSeqConfig(vocab_size=40, d_model=32, n_layers=1, n_heads=2, feat_n2=16)),
    lambda: TransformerLM(TransformerConfig(vocab_size=40, d_model=32, n_layers=1, n_heads=2)),
])
def test_auto_model_round_trip_and_generate(tmp_path, build):
    torch.manual_seed(0)
    model = build().eval()
    PrismlmForCausalLM.from_prismlm(model).save_pretrained(tmp_path)
    loaded = transformers.AutoModelForCausalLM.from_pretrained(tmp_path).eval()
    tokens = torch.randint(0, 40, (2, 12))
    with torch.no_grad():
        assert torch.allclose(loaded(tokens).logits, model(tokens), atol=1e-6)
        out = loaded.generate(tokens, max_new_tokens=5, do_sample=False, pad_token_id=0)
    assert torch.equal(out, model.generate(tokens, max_new_tokens=5))
    loss = loaded(tokens, labels=tokens).loss
    assert torch.isfinite(loss)
