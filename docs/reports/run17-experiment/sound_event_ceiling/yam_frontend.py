"""YAMNet's own front end (25 ms Hann window, 10 ms hop, 64 HTK mel bands 125-7500 Hz, log(mel + 0.001),
96-frame patches every 48 frames) and the ONNX session, shared by yam_exp.py and
../../run18-experiment/sound_sources/yam_cv.py."""
import numpy as np, torch, librosa, onnxruntime as ort

FB = torch.tensor(librosa.filters.mel(sr=16000, n_fft=512, n_mels=64, fmin=125, fmax=7500, htk=True, norm=None), dtype=torch.float32)
WIN = torch.hann_window(400)


def session(threads):
    so = ort.SessionOptions(); so.intra_op_num_threads = threads; so.inter_op_num_threads = 1
    return ort.InferenceSession('/tmp/lead/e17/yam/emb.onnx', so, providers=['CPUExecutionProvider'])


def patches(w):
    x = torch.from_numpy(np.asarray(w, np.float32))
    if len(x) < 512 + 95 * 160: x = torch.nn.functional.pad(x, (0, 512 + 95 * 160 - len(x)))
    spec = torch.stft(x, 512, 160, 400, WIN, center=False, return_complex=True).abs()  # (257, T)
    lm = torch.log(FB @ spec + 1e-3).T  # (T, 64)
    return torch.stack([lm[s:s + 96] for s in range(0, lm.shape[0] - 96 + 1, 48)])[:, None].numpy()
