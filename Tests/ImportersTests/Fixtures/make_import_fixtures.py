"""Checkpoints as two codebases save them, for `gradcam import`'s tests.

- sat/: sgrvinod's "a-PyTorch-Tutorial-to-Image-Captioning". models.py's Encoder
  (a ResNet's children()[:-2] as `resnet`, AdaptiveAvgPool2d(14)) and
  DecoderWithAttention, pickled whole by utils.save_checkpoint's torch.save(state)
  — in the zip layout and in the legacy one — beside WORDMAP_*.json. The ResNet is
  torchvision's ResNet-18 structure at a first-stage width of 4 (the tutorial's is a
  ResNet-101; the importer reads the structure from the tensors), random weights.
- vqa/, vqa-caffe/: Cyanogenoid's pytorch-vqa. model.py's Net wrapped in
  nn.DataParallel, saved by train.py's torch.save({'name', 'tracker', 'config',
  'weights', 'eval', 'vocab'}); the ResNet as a state_dict: a ResNet-18 structure
  of width 4 in torchvision's layout, and a ResNet-50 structure of width 4 in the
  Caffe layout of the ported weights preprocess-images.py uses.
- show-and-tell/: yunjey's pytorch-tutorial image_captioning (model.py, sample.py).
- basic-vqa/: tbmoon's basic_vqa (models.py, train.py's checkpoint, the vocabulary files).

The image is a PNG the importer's preprocessing maps without resampling (256² for
the captioner; 512² centre-cropped to 448² for VQA), so the tests run the whole
command path. expected.json holds PyTorch's numbers, computed with the original
code's forward passes: caption.py's beam search (k = 1 and 3), each word's
log-probabilities and signed Grad-CAM at the tutorial's module paths; the VQA
answer logits, glimpses and the top answers' Grad-CAM.

Run from the repository root (torch from PyPI, only here):
    python3 Tests/ImportersTests/Fixtures/make_import_fixtures.py
"""
import importlib.util
import json
import os
import pickle
import sys
import types

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "../../.."))
spec = importlib.util.spec_from_file_location("models_fixtures", os.path.join(ROOT, "Tests/ModelsTests/Fixtures/make_fixtures.py"))
mf = importlib.util.module_from_spec(spec)
sys.modules["models_fixtures"] = mf        # the pickled encoder names its ResNet's block classes there
spec.loader.exec_module(mf)
MEAN, STD = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1), torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)


def module(name):
    m = types.ModuleType(name)
    sys.modules[name] = m
    return m


# --- sgrvinod's models.py (structure and forward as published) -------------------------
models = module("models")


class Encoder(nn.Module):
    def __init__(self, resnet, encoded_image_size=14):
        super(Encoder, self).__init__()
        self.enc_image_size = encoded_image_size
        modules = list(resnet.children())[:-2]
        self.resnet = nn.Sequential(*modules)
        self.adaptive_pool = nn.AdaptiveAvgPool2d((encoded_image_size, encoded_image_size))

    def forward(self, images):
        out = self.resnet(images)
        out = self.adaptive_pool(out)
        return out.permute(0, 2, 3, 1)


class Attention(nn.Module):
    def __init__(self, encoder_dim, decoder_dim, attention_dim):
        super(Attention, self).__init__()
        self.encoder_att = nn.Linear(encoder_dim, attention_dim)
        self.decoder_att = nn.Linear(decoder_dim, attention_dim)
        self.full_att = nn.Linear(attention_dim, 1)
        self.relu = nn.ReLU()
        self.softmax = nn.Softmax(dim=1)

    def forward(self, encoder_out, decoder_hidden):
        att1 = self.encoder_att(encoder_out)
        att2 = self.decoder_att(decoder_hidden)
        att = self.full_att(self.relu(att1 + att2.unsqueeze(1))).squeeze(2)
        alpha = self.softmax(att)
        return (encoder_out * alpha.unsqueeze(2)).sum(dim=1), alpha


class DecoderWithAttention(nn.Module):
    def __init__(self, attention_dim, embed_dim, decoder_dim, vocab_size, encoder_dim=2048, dropout=0.5):
        super(DecoderWithAttention, self).__init__()
        self.encoder_dim = encoder_dim
        self.attention_dim = attention_dim
        self.embed_dim = embed_dim
        self.decoder_dim = decoder_dim
        self.vocab_size = vocab_size
        self.dropout = dropout
        self.attention = Attention(encoder_dim, decoder_dim, attention_dim)
        self.embedding = nn.Embedding(vocab_size, embed_dim)
        self.dropout = nn.Dropout(p=self.dropout)
        self.decode_step = nn.LSTMCell(embed_dim + encoder_dim, decoder_dim, bias=True)
        self.init_h = nn.Linear(encoder_dim, decoder_dim)
        self.init_c = nn.Linear(encoder_dim, decoder_dim)
        self.f_beta = nn.Linear(decoder_dim, encoder_dim)
        self.sigmoid = nn.Sigmoid()
        self.fc = nn.Linear(decoder_dim, vocab_size)
        self.embedding.weight.data.uniform_(-0.1, 0.1)
        self.fc.bias.data.fill_(0)
        self.fc.weight.data.uniform_(-0.1, 0.1)

    def init_hidden_state(self, encoder_out):
        mean_encoder_out = encoder_out.mean(dim=1)
        return self.init_h(mean_encoder_out), self.init_c(mean_encoder_out)


for cls in (Encoder, Attention, DecoderWithAttention):
    cls.__module__ = "models"
    setattr(models, cls.__name__, cls)


def beam_search(encoder, decoder, image, word_map, beam_size):
    """caption.py's caption_image_beam_search, without the alphas it also returns."""
    k = beam_size
    vocab_size = len(word_map)
    encoder_out = encoder(image)
    encoder_dim = encoder_out.size(3)
    encoder_out = encoder_out.view(1, -1, encoder_dim)
    num_pixels = encoder_out.size(1)
    encoder_out = encoder_out.expand(k, num_pixels, encoder_dim)
    k_prev_words = torch.LongTensor([[word_map['<start>']]] * k)
    seqs = k_prev_words
    top_k_scores = torch.zeros(k, 1)
    complete_seqs, complete_seqs_scores = [], []
    step = 1
    h, c = decoder.init_hidden_state(encoder_out)
    while True:
        embeddings = decoder.embedding(k_prev_words).squeeze(1)
        awe, alpha = decoder.attention(encoder_out, h)
        gate = decoder.sigmoid(decoder.f_beta(h))
        awe = gate * awe
        h, c = decoder.decode_step(torch.cat([embeddings, awe], dim=1), (h, c))
        scores = F.log_softmax(decoder.fc(h), dim=1)
        scores = top_k_scores.expand_as(scores) + scores
        if step == 1:
            top_k_scores, top_k_words = scores[0].topk(k, 0, True, True)
        else:
            top_k_scores, top_k_words = scores.view(-1).topk(k, 0, True, True)
        prev_word_inds = torch.div(top_k_words, vocab_size, rounding_mode="floor")
        next_word_inds = top_k_words % vocab_size
        seqs = torch.cat([seqs[prev_word_inds], next_word_inds.unsqueeze(1)], dim=1)
        incomplete_inds = [ind for ind, next_word in enumerate(next_word_inds) if next_word != word_map['<end>']]
        complete_inds = list(set(range(len(next_word_inds))) - set(incomplete_inds))
        if len(complete_inds) > 0:
            complete_seqs.extend(seqs[complete_inds].tolist())
            complete_seqs_scores.extend(top_k_scores[complete_inds])
        k -= len(complete_inds)
        if k == 0:
            break
        seqs = seqs[incomplete_inds]
        h = h[prev_word_inds[incomplete_inds]]
        c = c[prev_word_inds[incomplete_inds]]
        encoder_out = encoder_out[prev_word_inds[incomplete_inds]]
        top_k_scores = top_k_scores[incomplete_inds].unsqueeze(1)
        k_prev_words = next_word_inds[incomplete_inds].unsqueeze(1)
        if step > 50:
            break
        step += 1
    i = complete_seqs_scores.index(max(complete_seqs_scores))
    return complete_seqs[i]


def teacher_forced(encoder, decoder, image, words, word_map):
    """Each word's log-probabilities [T, V], feeding <start> then the words (train.py's forward)."""
    encoder_out = encoder(image)
    encoder_out = encoder_out.view(1, -1, encoder_out.size(3))
    h, c = decoder.init_hidden_state(encoder_out)
    previous, rows = word_map['<start>'], []
    for w in words:
        embeddings = decoder.embedding(torch.tensor([previous]))
        awe, _ = decoder.attention(encoder_out, h)
        h, c = decoder.decode_step(torch.cat([embeddings, decoder.sigmoid(decoder.f_beta(h)) * awe], dim=1), (h, c))
        rows.append(F.log_softmax(decoder.fc(h), dim=1)[0])
        previous = w
    return torch.stack(rows)


def image_tensor(path, size, crop=None):
    pixels = torch.tensor(np.asarray(Image.open(path).convert("RGB")), dtype=torch.float32).permute(2, 0, 1)[None]
    x = (pixels / 255 - MEAN) / STD
    if crop:
        top = (size - crop) // 2
        x = x[:, :, top:top + crop, top:top + crop]
    return x


def noise_png(path, size, seed):
    g = np.random.default_rng(seed)
    small = g.integers(0, 256, (size // 8, size // 8, 3), dtype=np.uint8)
    Image.fromarray(small.repeat(8, 0).repeat(8, 1)).save(path)


def grad_cam(module, run):
    """Signed Grad-CAM at a module's output for the scalar run() returns."""
    store = {}

    def hook(_, __, out):
        out.retain_grad()
        store["a"] = out

    handle = module.register_forward_hook(hook)
    y = run()
    y.backward()
    handle.remove()
    a, g = store["a"][0], store["a"].grad[0]
    return (g.mean(dim=(1, 2))[:, None, None] * a).sum(0)


def sat_fixture():
    d = os.path.join(HERE, "sat")
    os.makedirs(d, exist_ok=True)
    torch.manual_seed(31)
    words = ["<pad>", "a", "red", "circle", "and", "blue", "square", "on", "the", "<unk>", "<start>", "<end>"]
    word_map = {w: i for i, w in enumerate(words)}
    resnet = mf.ResNet("resnet18", 4, 10)          # torchvision keeps avgpool and fc: children()[:-2] drops them
    encoder = Encoder(resnet).eval()
    decoder = DecoderWithAttention(attention_dim=10, embed_dim=12, decoder_dim=16, vocab_size=len(words),
                                   encoder_dim=resnet.out_channels, dropout=0.5).eval()
    mf.randomise_batch_norm(encoder)
    noise_png(os.path.join(d, "image.png"), 256, 5)
    x = image_tensor(os.path.join(d, "image.png"), 256)
    with torch.no_grad():
        decoder.attention.full_att.weight.mul_(20)      # attention far from uniform
        decoder.fc.weight.mul_(20)
        decoder.embedding.weight.mul_(30)               # the previous word matters
        # A random caption of a few words that ends, under greedy and beam search alike, and
        # holds no <pad>, <unk> or <start> (which caption.py may emit and gradcam never proposes).
        for seed in range(200):
            g = torch.Generator().manual_seed(seed)
            decoder.fc.bias.copy_(torch.randn(len(words), generator=g))
            try:
                greedy, beam3 = (beam_search(encoder, decoder, x, word_map, k) for k in (1, 3))
            except ValueError:                          # caption.py finds no caption that ends
                continue
            specials = {word_map[w] for w in ("<pad>", "<unk>", "<start>")}
            if 4 <= len(greedy) - 2 <= 10 and greedy != beam3 and not specials & set(greedy[1:-1] + beam3[1:-1]):
                break
    optimizer = torch.optim.Adam(params=filter(lambda p: p.requires_grad, decoder.parameters()), lr=4e-4)
    state = {'epoch': 7, 'epochs_since_improvement': 0, 'bleu-4': 0.2031, 'encoder': encoder, 'decoder': decoder,
             'encoder_optimizer': None, 'decoder_optimizer': optimizer}
    torch.save(state, os.path.join(d, "BEST_checkpoint_fixture.pth.tar"))
    torch.save(state, os.path.join(d, "BEST_checkpoint_legacy.pth.tar"), _use_new_zipfile_serialization=False)
    with open(os.path.join(d, "WORDMAP_fixture.json"), "w") as f:
        json.dump(word_map, f)
    caption = greedy[1:-1]                               # between <start> and <end>
    logprobs = teacher_forced(encoder, decoder, x, caption + [word_map["<end>"]], word_map)
    expected = {"greedy": caption, "beam3": beam3[1:-1], "logprobs": mf.flat(logprobs)}
    for layer, module_ in [("encoder.resnet.7", encoder.resnet[7]), ("encoder.adaptive_pool", encoder.adaptive_pool)]:
        maps = [grad_cam(module_, lambda t=t: teacher_forced(encoder, decoder, x, caption, word_map)[t, caption[t]])
                for t in range(len(caption))]
        expected["raw:" + layer] = mf.flat(torch.stack(maps))
    with open(os.path.join(d, "expected.json"), "w") as f:
        json.dump(expected, f, separators=(",", ":"))
    print("sat:", [words[i] for i in caption], "beam 3:", [words[i] for i in beam3[1:-1]])


# --- yunjey's pytorch-tutorial image_captioning (model.py, build_vocab.py) ----------------
class EncoderCNN(nn.Module):
    def __init__(self, embed_size, resnet):
        super(EncoderCNN, self).__init__()
        modules = list(resnet.children())[:-1]      # delete the last fc layer.
        self.resnet = nn.Sequential(*modules)
        self.linear = nn.Linear(resnet.fc.in_features, embed_size)
        self.bn = nn.BatchNorm1d(embed_size, momentum=0.01)

    def forward(self, images):
        """The tutorial's forward, without its no_grad around the ResNet (Grad-CAM needs the graph)."""
        features = self.resnet(images)
        features = features.reshape(features.size(0), -1)
        return self.bn(self.linear(features))


class DecoderRNN(nn.Module):
    def __init__(self, embed_size, hidden_size, vocab_size, num_layers, max_seq_length=20):
        super(DecoderRNN, self).__init__()
        self.embed = nn.Embedding(vocab_size, embed_size)
        self.lstm = nn.LSTM(embed_size, hidden_size, num_layers, batch_first=True)
        self.linear = nn.Linear(hidden_size, vocab_size)
        self.max_seg_length = max_seq_length

    def forward(self, features, captions):
        embeddings = self.embed(captions)
        embeddings = torch.cat((features.unsqueeze(1), embeddings), 1)
        hiddens, _ = self.lstm(embeddings)
        return self.linear(hiddens)

    def sample(self, features, states=None):
        sampled_ids = []
        inputs = features.unsqueeze(1)
        for i in range(self.max_seg_length):
            hiddens, states = self.lstm(inputs, states)
            outputs = self.linear(hiddens.squeeze(1))
            _, predicted = outputs.max(1)
            sampled_ids.append(predicted)
            inputs = self.embed(predicted)
            inputs = inputs.unsqueeze(1)
        return torch.stack(sampled_ids, 1)


class Vocabulary(object):
    def __init__(self):
        self.word2idx = {}
        self.idx2word = {}
        self.idx = 0

    def add_word(self, word):
        if not word in self.word2idx:
            self.word2idx[word] = self.idx
            self.idx2word[self.idx] = word
            self.idx += 1

    def __len__(self):
        return len(self.word2idx)


def show_and_tell_fixture():
    """Saved as train.py saves them (torch.save of each state_dict: the encoder in the legacy
    layout of the tutorial's .pkl days, the decoder in the zip one) and vocab.pkl as
    build_vocab.py pickles it, run as a script (so the class is __main__.Vocabulary)."""
    d = os.path.join(HERE, "show-and-tell")
    os.makedirs(d, exist_ok=True)
    torch.manual_seed(33)
    vocab = Vocabulary()
    for w in ["<pad>", "<start>", "<end>", "<unk>", "a", "red", "circle", "and", "blue", "square", "on", "the"]:
        vocab.add_word(w)
    with open(os.path.join(d, "vocab.pkl"), "wb") as f:
        pickle.dump(vocab, f)
    encoder = EncoderCNN(12, mf.ResNet("resnet18", 4, 10)).eval()
    mf.randomise_batch_norm(encoder)
    with torch.no_grad():
        encoder.bn.running_mean.normal_(0, 0.2)
        encoder.bn.running_var.uniform_(0.5, 1.5)
        encoder.bn.weight.normal_(1, 0.2)
        encoder.bn.bias.normal_(0, 0.2)
    decoder = DecoderRNN(12, 16, len(vocab), 2).eval()
    noise_png(os.path.join(d, "image.png"), 224, 7)
    x = image_tensor(os.path.join(d, "image.png"), 224)
    embed, linear = decoder.embed.weight.detach().clone(), decoder.linear.weight.detach().clone()

    def caption(seed):
        """sample()'s caption after a random head; None unless it has a few words, ends, holds no
        <pad> (which sample() may emit and gradcam never proposes) and does not start with <start>."""
        g = torch.Generator().manual_seed(seed)
        decoder.embed.weight.copy_(embed * 20)          # the previous word matters
        decoder.linear.weight.copy_(linear * (5 + 10 * torch.rand(1, generator=g)))
        decoder.linear.bias.copy_(torch.randn(len(vocab), generator=g))
        ids = decoder.sample(encoder(x))[0].tolist()
        words = ids[:ids.index(2)] if 2 in ids else ids
        return words if 0 not in words and 4 <= len(words) < 20 and len(set(words)) > 2 and words[0] != 1 else None

    with torch.no_grad():
        words = next(w for w in map(caption, range(1000)) if w is not None)
    torch.save(encoder.state_dict(), os.path.join(d, "encoder-5-3000.pkl"), _use_new_zipfile_serialization=False)
    torch.save(decoder.state_dict(), os.path.join(d, "decoder-5-3000.ckpt"))
    targets = words + ([2] if len(words) < 20 else [])
    logprobs = F.log_softmax(decoder(encoder(x), torch.tensor([targets[:-1]])), dim=2)[0]
    raw = torch.stack([grad_cam(encoder.resnet[7], lambda t=t: F.log_softmax(decoder(encoder(x), torch.tensor([words[:-1]])), dim=2)[0, t, words[t]])
                       for t in range(len(words))])
    with open(os.path.join(d, "expected.json"), "w") as f:
        json.dump({"greedy": words, "logprobs": mf.flat(logprobs), "raw:encoder.resnet.7": mf.flat(raw)}, f, separators=(",", ":"))
    print("show-and-tell:", [vocab.idx2word[i] for i in words])


# --- Cyanogenoid's pytorch-vqa model.py ---------------------------------------------------
model = module("model")


class Net(nn.Module):
    def __init__(self, embedding_tokens, vision_features, max_answers):
        super(Net, self).__init__()
        question_features, glimpses = 16, 2
        self.text = TextProcessor(embedding_tokens=embedding_tokens, embedding_features=12,
                                  lstm_features=question_features, drop=0.5)
        self.attention = VQAAttention(v_features=vision_features, q_features=question_features, mid_features=10,
                                      glimpses=glimpses, drop=0.5)
        self.classifier = Classifier(in_features=glimpses * vision_features + question_features, mid_features=14,
                                     out_features=max_answers, drop=0.5)
        for m in self.modules():
            if isinstance(m, nn.Linear) or isinstance(m, nn.Conv2d):
                nn.init.xavier_uniform_(m.weight)
                if m.bias is not None:
                    m.bias.data.zero_()

    def forward(self, v, q, q_len):
        q = self.text(q, list(q_len.data))
        v = v / (v.norm(p=2, dim=1, keepdim=True).expand_as(v) + 1e-8)
        a = self.attention(v, q)
        v = apply_attention(v, a)
        combined = torch.cat([v, q], dim=1)
        return self.classifier(combined), a


class Classifier(nn.Sequential):
    def __init__(self, in_features, mid_features, out_features, drop=0.0):
        super(Classifier, self).__init__()
        self.add_module('drop1', nn.Dropout(drop))
        self.add_module('lin1', nn.Linear(in_features, mid_features))
        self.add_module('relu', nn.ReLU())
        self.add_module('drop2', nn.Dropout(drop))
        self.add_module('lin2', nn.Linear(mid_features, out_features))


class TextProcessor(nn.Module):
    def __init__(self, embedding_tokens, embedding_features, lstm_features, drop=0.0):
        super(TextProcessor, self).__init__()
        self.embedding = nn.Embedding(embedding_tokens, embedding_features, padding_idx=0)
        self.drop = nn.Dropout(drop)
        self.tanh = nn.Tanh()
        self.lstm = nn.LSTM(input_size=embedding_features, hidden_size=lstm_features, num_layers=1)
        self.features = lstm_features
        nn.init.xavier_uniform_(self.embedding.weight)

    def forward(self, q, q_len):
        embedded = self.embedding(q)
        tanhed = self.tanh(self.drop(embedded))
        packed = nn.utils.rnn.pack_padded_sequence(tanhed, q_len, batch_first=True)
        _, (_, c) = self.lstm(packed)
        return c.squeeze(0)


class VQAAttention(nn.Module):
    def __init__(self, v_features, q_features, mid_features, glimpses, drop=0.0):
        super(VQAAttention, self).__init__()
        self.v_conv = nn.Conv2d(v_features, mid_features, 1, bias=False)
        self.q_lin = nn.Linear(q_features, mid_features)
        self.x_conv = nn.Conv2d(mid_features, glimpses, 1)
        self.drop = nn.Dropout(drop)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, v, q):
        v = self.v_conv(self.drop(v))
        q = self.q_lin(self.drop(q))
        q = tile_2d_over_nd(q, v)
        x = self.relu(v + q)
        return self.x_conv(self.drop(x))




def apply_attention(input, attention):
    n, c = input.size()[:2]
    glimpses = attention.size(1)
    input = input.view(n, 1, c, -1)
    attention = attention.view(n, glimpses, -1)
    attention = F.softmax(attention, dim=-1).unsqueeze(2)
    weighted = attention * input
    return weighted.sum(dim=-1).view(n, -1)


def tile_2d_over_nd(feature_vector, feature_map):
    n, c = feature_vector.size()
    spatial_size = feature_map.dim() - 2
    return feature_vector.view(n, c, *([1] * spatial_size)).expand_as(feature_map)


for cls in (Net, Classifier, TextProcessor, VQAAttention):
    cls.__module__ = "model"
    setattr(model, cls.__name__, cls)


def caffe_layout(resnet):
    """ruotianluo/pytorch-resnet's ResNet (the Caffe-ported weights pytorch-vqa extracts its
    features with): torchvision's, with a max pool of padding 0 rounding up, and strides on
    each stage's first 1×1 convolution."""
    resnet.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=0, ceil_mode=True)
    for i in range(2, 5):
        getattr(resnet, 'layer%d' % i)[0].conv1.stride = (2, 2)
        getattr(resnet, 'layer%d' % i)[0].conv2.stride = (1, 1)
    return resnet


def vqa_fixture(folder, arch, layout, seed):
    d = os.path.join(HERE, folder)
    os.makedirs(d, exist_ok=True)
    torch.manual_seed(seed)
    question_words = ["what", "color", "is", "the", "circle", "left", "of", "square"]
    answers = ["red", "blue", "green", "yes", "no", "circle", "two"]
    vocab = {"question": {w: i + 1 for i, w in enumerate(question_words)}, "answer": {a: i for i, a in enumerate(answers)}}
    resnet = mf.ResNet(arch, 4, 10).eval()
    if layout == "caffe":
        caffe_layout(resnet)
    mf.randomise_batch_norm(resnet)
    torch.save(resnet.state_dict(), os.path.join(d, f"{arch}-{layout}-fixture.pth"))
    net = nn.DataParallel(Net(len(question_words) + 1, resnet.out_channels, len(answers)))
    with torch.no_grad():
        net.module.attention.x_conv.weight.mul_(15)
    net.eval()
    tracker = {"train_loss": [[2.1, 1.7]], "train_acc": [[0.25, 0.375]]}
    config = {"qa_path": "vqa", "output_size": 14, "central_fraction": 0.875, "batch_size": 128, "max_answers": 3000}
    results = {'name': "fixture", 'tracker': tracker, 'config': config, 'weights': net.state_dict(),
               'eval': {'answers': [1, 4], 'accuracies': [0.5, 1.0], 'idx': [0, 1]}, 'vocab': vocab}
    torch.save(results, os.path.join(d, "2017-08-04_00.55.19.pth"))
    noise_png(os.path.join(d, "image.png"), 512, 6)
    x = image_tensor(os.path.join(d, "image.png"), 512, crop=448)
    question = "what color is the circle left of the square?"
    ids = [vocab["question"][w] for w in question[:-1].split(" ")]
    q, q_len = torch.tensor([ids]), torch.tensor([len(ids)])
    layer4 = resnet.layer4

    def run(answer=None):
        logits, a = net.module(resnet.feature_map(x), q, q_len)
        return (logits, a) if answer is None else logits[0, answer]

    with torch.no_grad():
        logits, attention = run()
    glimpses = F.softmax(attention.view(1, attention.size(1), -1), dim=-1).view(attention.shape[1:])
    top = [int(i) for i in logits[0].argsort(descending=True)[:3]]
    raw = torch.stack([grad_cam(layer4, lambda a=a: run(a)) for a in top])
    with open(os.path.join(d, "expected.json"), "w") as f:
        json.dump({"question": question, "ids": ids, "logits": mf.flat(logits), "glimpses": mf.flat(glimpses),
                   "top": top, "raw:backbone.layer4": mf.flat(raw)}, f, separators=(",", ":"))
    print(f"{folder}: top", [answers[i] for i in top])


# --- tbmoon's basic_vqa models.py --------------------------------------------------------
class ImgEncoder(nn.Module):
    def __init__(self, embed_size, model):
        super(ImgEncoder, self).__init__()
        in_features = model.classifier[-1].in_features
        model.classifier = nn.Sequential(*list(model.classifier.children())[:-1])
        self.model = model
        self.fc = nn.Linear(in_features, embed_size)

    def forward(self, image):
        """The original's forward, without its no_grad around the VGG (Grad-CAM needs the graph)."""
        img_feature = self.model(image)
        img_feature = self.fc(img_feature)
        l2_norm = img_feature.norm(p=2, dim=1, keepdim=True).detach()
        return img_feature.div(l2_norm)


class QstEncoder(nn.Module):
    def __init__(self, qst_vocab_size, word_embed_size, embed_size, num_layers, hidden_size):
        super(QstEncoder, self).__init__()
        self.word2vec = nn.Embedding(qst_vocab_size, word_embed_size)
        self.tanh = nn.Tanh()
        self.lstm = nn.LSTM(word_embed_size, hidden_size, num_layers)
        self.fc = nn.Linear(2 * num_layers * hidden_size, embed_size)

    def forward(self, question):
        qst_vec = self.word2vec(question)
        qst_vec = self.tanh(qst_vec)
        qst_vec = qst_vec.transpose(0, 1)
        _, (hidden, cell) = self.lstm(qst_vec)
        qst_feature = torch.cat((hidden, cell), 2)
        qst_feature = qst_feature.transpose(0, 1)
        qst_feature = qst_feature.reshape(qst_feature.size()[0], -1)
        qst_feature = self.tanh(qst_feature)
        return self.fc(qst_feature)


class VqaModel(nn.Module):
    def __init__(self, embed_size, qst_vocab_size, ans_vocab_size, word_embed_size, num_layers, hidden_size, vgg):
        super(VqaModel, self).__init__()
        self.img_encoder = ImgEncoder(embed_size, vgg)
        self.qst_encoder = QstEncoder(qst_vocab_size, word_embed_size, embed_size, num_layers, hidden_size)
        self.tanh = nn.Tanh()
        self.dropout = nn.Dropout(0.5)
        self.fc1 = nn.Linear(embed_size, ans_vocab_size)
        self.fc2 = nn.Linear(ans_vocab_size, ans_vocab_size)

    def forward(self, img, qst):
        img_feature = self.img_encoder(img)
        qst_feature = self.qst_encoder(qst)
        combined_feature = torch.mul(img_feature, qst_feature)
        combined_feature = self.tanh(combined_feature)
        combined_feature = self.dropout(combined_feature)
        combined_feature = self.fc1(combined_feature)
        combined_feature = self.tanh(combined_feature)
        combined_feature = self.dropout(combined_feature)
        return self.fc2(combined_feature)


def basic_vqa_fixture():
    """train.py's torch.save({'epoch', 'state_dict'}) of a VqaModel on a VGG-19 of a sixteenth of
    torchvision's widths, and the two vocabulary files its data loader reads."""
    d = os.path.join(HERE, "basic-vqa")
    os.makedirs(d, exist_ok=True)
    torch.manual_seed(34)
    questions = ["<pad>", "<unk>", "what", "color", "is", "the", "circle", "left", "of", "square", "?"]
    answers = ["<unk>", "red", "blue", "green", "yes", "no", "two"]
    for name, tokens in [("vocab_questions.txt", questions), ("vocab_answers.txt", answers)]:
        with open(os.path.join(d, name), "w") as f:
            f.write("\n".join(tokens) + "\n")
    cfg = [4, 4, "M", 8, 8, "M", 16, 16, 16, 16, "M", 32, 32, 32, 32, "M", 32, 32, 32, 32, "M"]
    model = VqaModel(embed_size=20, qst_vocab_size=len(questions), ans_vocab_size=len(answers), word_embed_size=12,
                     num_layers=2, hidden_size=16, vgg=mf.VGG(cfg, False, 24, 10)).eval()
    torch.save({'epoch': 0, 'state_dict': model.state_dict()}, os.path.join(d, "model-epoch-01.ckpt"))
    noise_png(os.path.join(d, "image.png"), 224, 8)
    x = image_tensor(os.path.join(d, "image.png"), 224)
    question = "what color is the circle left of the square?"
    ids = [questions.index(w) if w in questions else 1 for w in ["what", "color", "is", "the", "circle", "left", "of", "the", "square", "?"]]
    padded = torch.tensor([ids + [0] * (30 - len(ids))])       # data_loader.py pads with <pad> to max_qst_length
    layer = model.img_encoder.model.features[35]
    with torch.no_grad():
        logits = model(x, padded)
    top = [int(i) for i in logits[0].argsort(descending=True)[:3]]
    raw = torch.stack([grad_cam(layer, lambda a=a: model(x, padded)[0, a]) for a in top])
    with open(os.path.join(d, "expected.json"), "w") as f:
        json.dump({"question": question, "ids": ids, "logits": mf.flat(logits), "top": top,
                   "raw:img_encoder.model.features.35": mf.flat(raw)}, f, separators=(",", ":"))
    print("basic-vqa: top", [answers[i] for i in top])


if __name__ == "__main__":
    basic_vqa_fixture()
    show_and_tell_fixture()
    sat_fixture()
    vqa_fixture("vqa", "resnet18", "torchvision", 32)
    vqa_fixture("vqa-caffe", "resnet50", "caffe", 35)
