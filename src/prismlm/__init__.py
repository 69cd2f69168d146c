"""prismlm: sequence-model architectures beyond the Transformer.

Layout (imports flow downward only):
    ops/      pure tensor functions (delta rule, feature maps, multi-rate scan, VSA algebra)
    layers/   nn.Modules built on ops (mixers, norms, attention, experts)
    models/   full language models behind one interface (`SequenceLM`)
    data/, train/, bench/, memory/, continual/, cli/
"""

__version__ = "0.1.0"
