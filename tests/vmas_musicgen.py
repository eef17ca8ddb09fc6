"""A tiny random MusicGen saved as a transformers-format folder, for tests that need a "real" one.

`save_tiny_musicgen(folder)` writes what a published MusicGen folder holds (config.json with the
text encoder / audio encoder / decoder configs, model.safetensors, generation_config.json) plus
a T5-style tokenizer built offline from a few words, so nothing is downloaded. Every weight is
drawn from `seed` (LayerNorms included), so an exact port cannot pass by accident.

Sizes: T5 16 wide (1 layer), decoder 32 wide, 2 layers, 4 heads, `n_q` codebooks of 32 entries;
EnCodec at 8 kHz with a hop of 16 samples (500 code frames per second).
"""

from __future__ import annotations

from pathlib import Path

WORDS = (
    "calm", "piano", "ambient", "upbeat", "drums", "energetic", "strings", "sad", "happy", "electronic",
    "guitar", "slow", "fast", "bass", "cinematic", "orchestral", "soft", "loud", "warm", "bright", "dark",
    "tempo", "bpm", "mood", "style", "music", "with", "and", "a", "the", "of", "in", "for", "minor", "major",
)
CARDINALITY = 32  # entries per codebook of the tiny codec (and the decoder's vocab_size)
SAMPLE_RATE = 8000
HOP = 16


def tiny_tokenizer():
    """A T5-like fast tokenizer (Unigram over whole words, </s> appended, <pad> = 0), offline."""
    from tokenizers import (
        Tokenizer,
        decoders,
        models,
        normalizers,
        pre_tokenizers,
        processors,
    )
    from transformers import PreTrainedTokenizerFast

    vocab = [("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0)] + [(f"\u2581{w}", -1.0) for w in WORDS]
    vocab += [(c, -5.0) for c in "abcdefghijklmnopqrstuvwxyz0123456789"]  # unknown words spell out
    tok = Tokenizer(models.Unigram(vocab, unk_id=2, byte_fallback=False))
    tok.normalizer = normalizers.Lowercase()
    tok.pre_tokenizer = pre_tokenizers.Metaspace()
    tok.decoder = decoders.Metaspace()
    tok.post_processor = processors.TemplateProcessing(single="$A </s>", special_tokens=[("</s>", 1)])
    return PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="<pad>", eos_token="</s>", unk_token="<unk>",
                                   model_max_length=512)


def tiny_musicgen_model(*, n_q: int = 4, seed: int = 0):
    """A random MusicgenForConditionalGeneration with every parameter drawn from `seed`."""
    import torch
    from transformers import (
        EncodecConfig,
        MusicgenConfig,
        MusicgenDecoderConfig,
        MusicgenForConditionalGeneration,
        T5Config,
    )

    vocab = len(tiny_tokenizer())
    text = T5Config(vocab_size=vocab, d_model=16, d_kv=8, d_ff=32, num_layers=1, num_heads=2,
                    decoder_start_token_id=0, pad_token_id=0, eos_token_id=1)
    # n_q codebooks of 32 (5 bits) at 500 frames/s: n_q * 2.5 kbps
    audio = EncodecConfig(sampling_rate=SAMPLE_RATE, upsampling_ratios=[4, 4], codebook_size=CARDINALITY,
                          codebook_dim=8, hidden_size=8, num_filters=4, num_lstm_layers=1,
                          target_bandwidths=[n_q * 2.5], audio_channels=1)
    decoder = MusicgenDecoderConfig(vocab_size=CARDINALITY, hidden_size=32, num_hidden_layers=2,
                                    num_attention_heads=4, ffn_dim=64, num_codebooks=n_q,
                                    max_position_embeddings=256, pad_token_id=CARDINALITY,
                                    bos_token_id=CARDINALITY, dropout=0.0)
    config = MusicgenConfig(text_encoder=text.to_dict(), audio_encoder=audio.to_dict(), decoder=decoder.to_dict())
    torch.manual_seed(seed)
    model = MusicgenForConditionalGeneration(config).eval()
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():  # LayerNorms and all: nothing left at a neutral init
            p.add_(torch.randn(p.shape, generator=g) * 0.05)
    model.generation_config.pad_token_id = CARDINALITY
    model.generation_config.decoder_start_token_id = CARDINALITY
    return model


def save_tiny_musicgen(folder: Path, *, n_q: int = 4, seed: int = 0) -> Path:
    """Save a tiny random MusicGen (weights, configs, tokenizer) to `folder`; returns `folder`."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    tiny_musicgen_model(n_q=n_q, seed=seed).save_pretrained(folder)
    tiny_tokenizer().save_pretrained(folder)
    return folder
