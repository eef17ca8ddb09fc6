"""VMAS: the neural video-to-music model (Lin et al., "VMAs", WACV 2025), built for real.

One job per file:
  config.py         named sizes (debug / small / medium) as frozen dataclasses
  backbone.py       the frozen CLIP/SigLIP image encoder from a local folder, its preprocessing
  features.py       per-frame encoder input (backbone features or debug pixels), one path for
                    training shards and serving
  video_encoder.py  temporal video encoder: trained projection of the backbone's features (or a
                    debug CNN), token merging and shifted windowed attention, linear in frame count
  delay.py          the codebook delay pattern (pure; grids drawn in its docstring)
  music_lm.py       MusicGen's decoder exactly, cross-attending to one [text | video] memory
                    (video gated, closed at the start), static KV cache, top-k / top-p sampling
  pretrained.py     a local MusicGen folder -> that LM with its weights, T5 text conditioning, codec
  text_conditioning.py  T5 + MusicGen's enc_to_dec_proj: prompts -> the memory's text part
  codec.py          codec interface; 32 kHz EnCodec via `transformers` from local files; TinyCodec
  beats.py          music beats (onset comb tracker), the analysis's visual beats, activation
                    curves, re-ranking
  losses.py         token cross-entropy, InfoNCE with learned temperature, beat-head BCE
  model.py          the whole network and its joint training loss
  data.py           videos with soundtracks -> cached shards (features, codes, beats)
  train.py          training loop (bf16 autocast on CUDA, accumulation, checkpoint, resume)
  checkpoint.py     checkpoint files with sha256; corrupt ones refused with a clear message
  generate.py       sliding-window generation with guidance and candidate re-ranking
  serving.py        the `vmas` model of the server: info / load / compose
  install.py        `scorecut models add` / `verify` for VMAS checkpoints
  zero_shot.py      the `musicgen` model: MusicGen's weights zero-shot, candidates re-ranked by beats
  prompt.py         the text prompt written from the analysis and the options (style, mood, energy)
  musicgen_install.py  `scorecut models add` / `verify musicgen`: a checked, atomic install of a folder

Where the paper is silent, the choices are ours:
- Sizes follow MusicGen (small: 1024 wide, 16 heads, 18 blocks with cross-attention, about
  320M; 4 EnCodec codebooks at 50 Hz, 2048 entries each). Training windows: 10 s (small), 20 s
  (medium).
- Video: 8 frames per second through a frozen pretrained image encoder (CLIP or SigLIP, at its
  native resolution with its own preprocessing; pooled features cached in the shards); the
  `debug` config keeps a small CNN on 32 px letterboxed frames. Temporal layers are shifted
  windows of 16 tokens after merging 2 frames per token.
- Visual beats are the server analysis's (motion peaks and cuts), in training as in serving; they reach the LM as an
  activation curve (Gaussian bumps, sigma 30 ms) added to the input at every token step, and the
  video tokens are cross-attended with their times relative to the window.
- Guidance drops the video (null memory, no beat stream) for 20 % of training clips; scale 3.
- The contrastive music embedding comes from a small conv net over the codes that never sees
  the video (the LM's hidden states would, through cross-attention, and make the task trivial).
- The beat head reads the LM with the video dropped, so at inference the beats it finds are the
  music's own; candidates are ranked by the F-measure (100 ms window) between those beats
  and the video's visual beats.
- Long videos: windows slide by half a window, each prompted with the previous half.
"""
