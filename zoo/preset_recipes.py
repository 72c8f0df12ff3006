"""The recipes behind the pretrained presets: training arguments plus what each model card says.

They live with the models (keras-hub keeps its presets next to its models) so that `training/`
stays model-agnostic. `python -m training make-preset NAME` trains the recipe (or, with
`--from-run DIR`, adopts a finished run of the same recipe), writes saved_models/NAME without
optimizer state, measures the metrics with the evaluation command, writes the model card and
regenerates the leaderboard.
"""

# What the MNIST presets share: the IWAE paper's setting (Bernoulli pixels, dynamic binarization,
# tanh MLPs, batch 100, Adam 1e-3), with a cosine decay to 1e-4 over the run.
MNIST_BERNOULLI = {"dataset": "mnist", "likelihood": "bernoulli", "binarization": "dynamic",
                   "activation": "tanh", "batch_size": 100, "learning_rate": 1e-3,
                   "lr_schedule": "cosine", "seed": 0}

# The sequence presets: the JSB chorales (the Boulanger-Lewandowski split, quarter notes), Adam
# with a cosine decay, and the weights of the epoch with the lowest validation loss.
JSB = {"dataset": "jsb_chorales", "batch_size": 8, "lr_schedule": "cosine", "epochs": 200,
       "keep_best": True, "seed": 0}
# Each sequence preset is also measured on the test split of music21's chorales: the same body of
# Bach chorales in another encoding (JSB was made from MIDI files; the zoo quantizes music21's
# MusicXML itself, and eighth-note passing tones fall into the quarter-note steps: 4.65 notes per
# step against JSB's 3.9). Pieces may recur (the first 6 steps of 4 of the 66 music21 test
# pieces equal a JSB training piece's up to transposition), but the measured figures are far
# worse than on JSB: a test of transfer across encodings.
MUSIC21 = {"also_on": ["bach_chorales"],
           "also_on_note": "music21's chorales, quantized by the zoo and split with seed 0: the "
                           "same body of Bach chorales in another encoding (passing tones fall "
                           "into the quarter-note steps: 4.65 notes per step against JSB's "
                           "3.9), so this measures transfer across encodings, not a JSB figure"}
JSB_ANCHOR = ("Frame-level NLL on the JSB test set in nats per time step (Boulanger-Lewandowski "
              "et al. 2012; Fraccaro et al. 2016): RNN with independent Bernoullis about 8.7, "
              "TSBN 7.48, STORN 6.91, RNN-NADE 5.19, SRNN 4.74.")

# The adversarial presets: MNIST grey levels (no binarization: a discriminator would tell binary
# data from grey samples at once), Adam 2e-4 with beta_1 0.5 (Radford et al. 2016), batch 100,
# measured on sample quality beside the VAE family (FD, Parzen, class coverage,
# precision/recall in the mnist_classifier's features).
MNIST_ADVERSARIAL = {"dataset": "mnist", "binarization": "none", "batch_size": 100,
                     "learning_rate": 2e-4, "adam_beta_1": 0.5, "seed": 0}
SAMPLE_METRICS = "parzen,fd,coverage,precision_recall"
ADVERSARIAL_PICTURES = ["samples", "curves", "latent_walk"]

PRESETS = {
    "vae_mnist": {
        "train": {**MNIST_BERNOULLI, "model": "vae", "latent_dim": 50,
                  "hidden_units": [200, 200], "epochs": 700},
        "metrics": "elbo,nll,parzen,fd",
        "title": "VAE on binarized MNIST (2x200 tanh MLPs, z = 50, Bernoulli)",
        "paper": "Kingma & Welling, Auto-Encoding Variational Bayes, ICLR 2014; architecture "
                 "of Burda, Grosse & Salakhutdinov, Importance Weighted Autoencoders, ICLR 2016",
        "anchor": "Burda et al. report 86.76 nats for this architecture after 3280 epochs; a "
                  "popular PyTorch zoo's reproduction reached 89.78 (200 importance samples).",
        "limits": "Trained on CPU for far fewer epochs than the paper; samples are the mean "
                  "images of p(x|z) (grey), not binary draws.",
        "target_nll": 88.0,
        "longer_recipe": "the same command with --epochs 3280 (the paper's epoch count; about "
                         "3.3 hours on 2 CPU cores at the measured speed)",
    },
    "vae2d_mnist": {
        "train": {**MNIST_BERNOULLI, "model": "vae", "latent_dim": 2,
                  "hidden_units": [500, 500], "epochs": 100},
        "metrics": "elbo,nll,parzen,fd",
        "title": "VAE on binarized MNIST with a 2-D latent (for the manifold picture)",
        "paper": "Kingma & Welling, Auto-Encoding Variational Bayes, ICLR 2014 (figure 4)",
        "anchor": "A 2-D latent cannot reach the NLL of a 50-D one; it exists for pictures.",
        "limits": "Two latent dimensions: blurry samples and a high NLL by design.",
        "pictures": ["manifold", "scatter"],
    },
    "cvae_mnist": {
        "train": {**MNIST_BERNOULLI, "model": "cvae", "latent_dim": 50,
                  "hidden_units": [200, 200], "epochs": 40},
        "metrics": "elbo,nll,parzen,fd",
        "title": "Conditional VAE on binarized MNIST (2x200 tanh MLPs, z = 50, one-hot label "
                 "into encoder and decoder)",
        "paper": "Sohn, Lee & Yan, Learning Structured Output Representation using Deep "
                 "Conditional Generative Models, NeurIPS 2015; the conditional generator "
                 "p(x|y,z) of Kingma et al., Semi-Supervised Learning with Deep Generative "
                 "Models, NeurIPS 2014",
        "anchor": "No standard published NLL for a conditional MNIST VAE; compare with "
                  "vae_mnist (same architecture, no label): log p(x|y) can exceed log p(x) by "
                  "at most log 10 = 2.30 nats when the label is perfectly predictable.",
        "limits": "The NLL is of log p(x|y), conditioned on the true test label, so it is not "
                  "comparable with the unconditional presets' NLL. CPU training, 40 epochs; the run "
                  "was started as a 100-epoch run and resumed from its epoch-25 checkpoint as "
                  "a 40-epoch run (the cosine learning-rate schedule was re-set to 40 epochs at "
                  "that point).",
        "pictures": ["digits", "scatter"],
    },
    "m1m2_mnist_100": {  # was m2_mnist_100 (zoo.presets.ALIASES)
        # M1+M2 reads M1's codes: the likelihood is M1's, so the recipe names none.
        "train": {**{k: v for k, v in MNIST_BERNOULLI.items() if k != "likelihood"},
                  "model": "m1m2", "m1": "vae_mnist", "latent_dim": 50,
                  "hidden_units": [500], "activation": "softplus", "alpha": 10.0,
                  "labels_per_class": 10, "labelled_batch_size": 100, "epochs": 30},
        "metrics": "error,parzen,fd",
        "repeat_seeds": [1, 2],  # the semi-supervised protocol: mean and spread over 3 seeds
        "title": "Semi-supervised M1+M2 on MNIST with 100 labels (M2: 500 softplus units, "
                 "z2 = 50, on the z1 = 50 codes of vae_mnist)",
        "paper": "Kingma, Rezende, Mohamed & Welling, Semi-Supervised Learning with Deep "
                 "Generative Models, NeurIPS 2014",
        "anchor": "Kingma et al. report test errors with 100 labels of 11.97% (M2 on pixels) "
                  "and 3.33% (M1+M2); Ladder networks reach 1.06%.",
        "limits": "M1 is the vae_mnist preset (2x200 tanh, trained without labels on the "
                  "50k training images), not the paper's M1; M2 saw 30 epochs on CPU. The "
                  "stacked model has no NLL (M1 and M2 are trained separately). The labelled "
                  "images are chosen by the seed: the spread over seeds mixes the labelled set "
                  "and the initialisation. The style z2 carries little here (its KL is about 2 "
                  "nats per image in training): the label decides most of M1's code, so the "
                  "rows of the analogy picture look alike; the paper's analogy figure comes from "
                  "M2 on pixels, which was not trained here.",
        "pictures": ["analogies", "digits", "scatter"],
    },
    "iwae_mnist": {
        "train": {**MNIST_BERNOULLI, "model": "iwae", "latent_dim": 50,
                  "hidden_units": [200, 200], "num_importance_samples": 50, "epochs": 70},
        "metrics": "elbo,nll,parzen,fd",
        "title": "IWAE (k = 50) on binarized MNIST (2x200 tanh MLPs, z = 50, Bernoulli)",
        "paper": "Burda, Grosse & Salakhutdinov, Importance Weighted Autoencoders, ICLR 2016",
        "anchor": "Burda et al. report 84.78 nats (k = 50, one stochastic layer, 3280 epochs).",
        "limits": "Each step evaluates the decoder 50 times per image, so CPU training covers "
                  "few epochs; see the gap to the paper below.",
        "target_nll": 86.0,
        "longer_recipe": "the same command with --epochs 3280 (the paper's epoch count; about "
                         "40 hours on 2 CPU cores at the measured 43 s per epoch, or a GPU)",
    },
    "vamp_mnist": {
        "train": {**MNIST_BERNOULLI, "model": "vamp", "latent_dim": 40,
                  "hidden_units": [300, 300], "num_pseudo_inputs": 500,
                  "kl_warmup_epochs": 10, "epochs": 120},
        "metrics": "elbo,nll,parzen,fd",
        "title": "VAE with a VampPrior (K = 500 pseudo-inputs) on binarized MNIST (2x300 tanh "
                 "MLPs, z = 40, Bernoulli)",
        "paper": "Tomczak & Welling, VAE with a VampPrior, AISTATS 2018",
        "anchor": "Tomczak & Welling report 85.57 nats for the one-stochastic-layer VampPrior "
                  "VAE (2x300 gated dense units, z = 40, K = 500) on statically binarized MNIST, "
                  "trained with 100 epochs of KL warm-up and early stopping (up to 2000 epochs).",
        "limits": "Differences from the paper: tanh MLPs instead of gated dense units (h = "
                  "(W x + b) * sigmoid(V x + c)); dynamic binarization for training and a "
                  "test set binarized once with a fixed seed, as for the zoo's other presets, "
                  "instead of the fixed static-MNIST files (so the numbers are not strictly "
                  "comparable); 10 epochs of linear KL warm-up instead of 100 (in a 3-epoch test "
                  "without warm-up the KL fell to 0.0 by epoch 2 and the training ELBO stayed at "
                  "-207 nats, the prior following the encoder to the uninformative solution, "
                  "while the same network with an N(0, I) prior reached -126); 120 epochs "
                  "instead of up to 2000; no early stopping. Pseudo-inputs start at N(0.5, "
                  "0.01) and are clipped to [0, 1] (the paper's hard-tanh). The recorded "
                  "training time includes heavy contention: other jobs shared the 2 cores "
                  "(load average up to 13) and another job's benchmark paused this one for "
                  "minutes; unshared, an epoch took 14-16 s (about 30 min for 120 epochs). "
                  "Samples are the mean images of p(x|z) (grey).",
        "target_nll": 87.0,
        "longer_recipe": "the same command with --epochs 2000 (the paper's upper bound; about "
                         "8-9 hours on 2 unshared CPU cores at 14-16 s per epoch, or a GPU)",
        "pictures": ["scatter", "pseudo_inputs"],
    },
    "gae_mnist": {
        "train": {**MNIST_BERNOULLI, "model": "gae", "latent_dim": 16,
                  "hidden_units": [200, 200], "lambda1": 0.05, "lambda2": 0.05, "epochs": 30},
        "metrics": "elbo,nll,parzen,fd",
        # log p(z) scores every z against all 50,000 cached components: k = 5000 on 10k test
        # images would take hours on 2 CPU cores (measured: k = 1000 on 200 images, 142 s on
        # the shared cores), so the NLL uses the k and images below (about 6 minutes).
        "nll_samples": 500, "nll_images": 1000,
        "title": "Generative Auto Encoder on binarized MNIST (2x200 tanh MLPs, z = 16, prior = "
                 "mixture of the 50,000 training posteriors)",
        "paper": "Kim, Kim & Hwang, Generative Auto Encoder, slides, Seoul National University, "
                 "2018; leave-one-out as in Norouzi, Fleet & Norouzi, Exemplar VAE, NeurIPS 2020",
        "anchor": "The slides report an approximated test log-likelihood of -96.91 (GAE, 2 "
                  "layers) against -96.94 (VAE, 2 layers) on binarized MNIST, and Parzen "
                  "log-likelihoods of 456.71 / 460.73 (GAE 1 / 2 layers) against 296.77 (VAE); "
                  "the architecture and estimator behind them are not stated.",
        "limits": "z = 16 (not 50) so that the cache of 50,000 posterior means and stddevs "
                  "(50,000 x 16 x 2 float32 = 6.4 MB) keeps the preset under 10 MB; the NLL "
                  "uses k = 500 importance samples on the first 1000 test images (see the "
                  "protocol) because each log p(z) is a sum over 50,000 components; 30 epochs "
                  "on CPU. Samples are mean images of p(x|z) (grey). Training dynamics: the "
                  "validation ELBO (full mixture, cache one epoch old) was best at epoch 13 "
                  "(-114.2 nats) and then drifted down to -119.6 at epoch 30; the training bound "
                  "did the same (best -115.1 at epoch 14, -120.2 at 30), so this is not "
                  "overfitting. The reconstruction term stayed near 90-92 nats while the KL "
                  "grew from 24 (epoch 14) to 28.5 and the regulariser from 3.5 to 5.6: the "
                  "posteriors spread apart epoch after epoch against the one-epoch-old cache "
                  "(each E-step moves the target of the M-step). The same-recipe VAE improved "
                  "throughout. Untested remedies: larger "
                  "lambda1/lambda2, refreshing the cache more often than once per epoch, early "
                  "stopping on the validation ELBO. Wall times: both runs shared the 2 cores "
                  "with other jobs, and the GAE run was paused by other work for about 8 of "
                  "its 36 minutes; with its E-step and the leave-one-out KL (50,000 components "
                  "per z) an epoch took 30-60 s against the VAE's 10-25 s on the shared cores.",
        "pictures": ["scatter"],
        "card_text": "## How it is trained (EM, as in the slides)\n\n"
                     "The prior is p(z) = (1/n) sum_j q(z|x_j) over the n = 50,000 training "
                     "images, with the training index y and z as latents. E-step: before every "
                     "epoch (and once after the last) all training images are encoded and their "
                     "posterior means and stddevs stored in a non-trainable cache, which is the "
                     "mixture over y and is saved with the weights. The encoder sees binary "
                     "images, so the cache encodes one fixed binarization (seed 0) of the grey "
                     "training images rather than the grey means, which the encoder never saw. "
                     "M-step: an epoch of Adam steps on the bound E_q[log p(x_i|z)] - E_q[log "
                     "q(z|x_i) - log p_-i(z)] minus the slides' regulariser lambda1 sum mu^2 - "
                     "lambda2 sum (1 + log s^2 - s^2) (lambda1 = lambda2 = 0.05, a tenth of the "
                     "weight these terms have in the VAE's KL to N(0, I); the bound alone does "
                     "not fix the scale of z), the cache held constant. p_-i leaves x_i's own "
                     "component out (leave-one-out, as in Norouzi et al. 2020, Exemplar VAE): "
                     "with it, q(z|x_i) could match its own cached copy and the prior would "
                     "memorise the training set. Test log-likelihoods and samples use the full "
                     "mixture.\n",
        "experiments": ["compare"],
    },
    "pixel_lstm_pokemon": {
        "train": {"model": "pixel_lstm", "dataset": "pokemon", "likelihood": "categorical",
                  "lstm_units": [512], "embedding_dim": 64, "dropout": 0.25,
                  "batch_size": 32, "learning_rate": 1e-3, "lr_schedule": "cosine",
                  "epochs": 76, "keep_best": True, "seed": 0},
        "metrics": "nll,baselines",
        "title": "Pixel LSTM on the lecture's 20x20 Pokémon sprites (1 LSTM layer of 512 cells, "
                 "167-colour palette)",
        "paper": "Hung-yi Lee, Machine Learning 2016, lecture on generation ('Pokémon "
                 "creation': a 1-layer, 512-cell LSTM emitting one palette index per pixel)",
        "anchor": "The lecture shows pictures, no likelihood; the card compares the test NLL "
                  "with two baselines measured the same way (palette frequencies, a "
                  "categorical per position).",
        "limits": "The lecture's recipe with two additions against overfitting 642 training "
                  "sprites: dropout 0.25 on the embeddings and LSTM outputs, and the weights "
                  "of the epoch with the lowest validation NLL (--keep-best). The NLL is "
                  "measured on 79 held-out sprites (10%, seed 0), which the lecture did not "
                  "hold out; no variant trained on all 792 sprites is shipped. The run's "
                  "schedule was not one cosine: it started as a 100-epoch run, was resumed "
                  "after epoch 8 as a 60-epoch run (the cosine decay re-set to 60 epochs), "
                  "and after epoch 60 a resume without --epochs went back to the first "
                  "recipe's 100-epoch cosine (the learning rate rising from 10% to about 37% of "
                  "1e-3) until it was stopped after epoch 76, the count recorded here; the "
                  "weights kept are those of epoch 66 (lowest validation NLL, 735.2 nats). "
                  "Retraining with the recipe as written runs one 76-epoch cosine instead.",
        "pictures": ["samples", "completion"],
    },
    "note_rnn_jsb": {
        **MUSIC21,
        "train": {**JSB, "model": "note_rnn", "rnn_units": [256], "dropout": 0.3,
                  "learning_rate": 2e-3},
        "metrics": "nll",
        "title": "LSTM with independent Bernoulli notes on the JSB chorales (256 cells): the "
                 "baseline of the sequence VAEs",
        "paper": "Boulanger-Lewandowski, Bengio & Vincent, Modeling Temporal Dependencies in "
                 "High-Dimensional Sequences, ICML 2012 (the 'RNN' row of their table)",
        "anchor": JSB_ANCHOR,
        "limits": "One LSTM layer of 256 cells with dropout 0.3 on its outputs; trained on 229 "
                  "chorales, so the weights kept are those of the epoch with the lowest "
                  "validation NLL.",
        "pictures": ["samples"],
    },
    "vrae_jsb": {
        **MUSIC21,
        "train": {**JSB, "model": "vrae", "latent_dim": 32, "encoder_units": [256],
                  "rnn_units": [256], "dropout": 0.3, "learning_rate": 2e-3,
                  "kl_warmup_epochs": 20, "free_bits": 0.1},
        "metrics": "elbo,nll",
        "nll_samples": 1000,
        "title": "Variational recurrent autoencoder on the JSB chorales (LSTM encoder and "
                 "decoder of 256 cells, one z of 32 per chorale)",
        "paper": "Fabius & van Amersfoort, Variational Recurrent Auto-Encoders, ICLR workshop "
                 "2015",
        "anchor": JSB_ANCHOR + " The zoo's note_rnn_jsb is the same decoder without z.",
        "limits": "Against posterior collapse: 20 epochs of KL warm-up and free bits (the KL "
                  "costs nothing below 0.1 nats per step of each chorale). Its decoder also "
                  "reads z at every step. The NLL is the importance-weighted bound with k = "
                  "1000 samples of z.",
        "pictures": ["samples", "reconstructions", "interpolation"],
    },
    "vrnn_jsb": {
        **MUSIC21,
        "train": {**JSB, "model": "vrnn", "rnn_units": 256, "hidden_units": 256,
                  "latent_dim": 32, "learning_rate": 1e-3, "kl_warmup_epochs": 20},
        "metrics": "elbo,nll",
        "nll_samples": 500,
        "title": "Variational RNN on the JSB chorales (a latent z_t of 32 per step with a learned "
                 "prior; LSTM of 256 cells)",
        "paper": "Chung, Kastner, Dinh, Goel, Courville & Bengio, A Recurrent Latent Variable "
                 "Model for Sequential Data, NeurIPS 2015",
        "anchor": JSB_ANCHOR,
        "limits": "20 epochs of KL warm-up against posterior collapse. The NLL is the "
                  "importance-weighted bound with k = 500 trajectories of z_1..T from q (each "
                  "sample a whole trajectory, so a larger k costs a full pass per sample).",
        "pictures": ["samples"],
    },
    "pixelcnn_mnist": {
        "train": {"model": "pixelcnn", "dataset": "mnist", "likelihood": "bernoulli",
                  "binarization": "dynamic", "filters": 32, "num_layers": 8, "kernel_size": 5,
                  "output_units": 64, "batch_size": 64, "learning_rate": 1e-3,
                  "lr_schedule": "cosine", "precision": "mixed_bfloat16", "epochs": 20,
                  "seed": 0},
        "metrics": "nll,baselines,parzen,fd",
        "title": "Gated PixelCNN on binarized MNIST (8 gated layers of 32 channels, 5-wide "
                 "masks, no blind spot)",
        "paper": "van den Oord, Kalchbrenner, Vinyals, Espeholt, Graves & Kavukcuoglu, "
                 "Conditional Image Generation with PixelCNN Decoders, NeurIPS 2016",
        "anchor": "Published on binarized MNIST: Gated PixelCNN 81.30 nats (conditional "
                  "80.10), PixelRNN 1 layer 80.75, PixelVAE 79.02, best published 77.56 "
                  "(LMConv). Those models are far larger (PixelRNN: 7 layers; the Gated "
                  "PixelCNN of the paper: 15 layers of 128 channels on CIFAR).",
        "limits": "Sized for 2 CPU cores: 8 layers of 32 channels (304k parameters), trained "
                  "in mixed bfloat16 (the output head and the loss in float32; evaluation in "
                  "float32), for 20 epochs.",
        "pictures": ["samples", "completion"],
    },
    "draw_mnist": {
        "train": {"dataset": "mnist", "binarization": "dynamic", "batch_size": 100,
                  "learning_rate": 1e-3, "lr_schedule": "cosine", "seed": 0,
                  "model": "draw", "latent_dim": 100, "num_steps": 64,
                  "encoder_units": 256, "decoder_units": 256, "attention": True,
                  "read_size": 2, "write_size": 5, "clipnorm": 10.0, "epochs": 100},
        "metrics": "elbo,nll,parzen,fd,coverage,precision_recall",
        # k=5000 through 64 steps of two 256-cell LSTMs for 10k images is days on 2 CPU cores
        "nll_samples": 1000, "nll_images": 1000,
        "title": "DRAW with attention on binarized MNIST (the paper's sizes: T = 64, 256-cell "
                 "LSTMs, read 2x2, write 5x5, z_t of 100)",
        "paper": "Gregor, Danihelka, Graves, Rezende & Wierstra, DRAW: A Recurrent Neural "
                 "Network For Image Generation, ICML 2015",
        "anchor": "Published (static binarization): 80.97 nats with attention, 87.40 without; a "
                  "known TF1 reproduction reached 90.5 after 100 epochs and 81.9 after about "
                  "300.",
        "limits": "Trained on CPU with dynamic binarization (the paper: static); the NLL is "
                  "measured with a reduced protocol (k = 1000 on 1000 test images).",
        "pictures": ["samples", "reconstructions", "canvases", "attention", "curves"],
        "target_nll": 90.0,
        "longer_recipe": "the same recipe for 300 epochs (the reproduction's 81.9)",
    },
    "gan_mnist": {
        "train": {**MNIST_ADVERSARIAL, "model": "gan", "latent_dim": 100,
                  "generator_units": [1024, 1024], "discriminator_units": [240, 240],
                  "maxout_pieces": 2, "epochs": 30},
        "metrics": SAMPLE_METRICS,
        "title": "GAN on MNIST grey levels (MLP generator 2x1024 ReLU with batch norm, maxout "
                 "discriminator 2x240x2 with dropout)",
        "paper": "Goodfellow et al., Generative Adversarial Nets, NeurIPS 2014",
        "anchor": "Parzen-window log-likelihood on MNIST: GAN 225 ± 2 (the paper's table 1; "
                  "a weak metric, see DESIGN.md). No NLL: a GAN has no density.",
        "limits": "No density and no encoder. The paper's z was uniform, here N(0, I); its "
                  "optimizer was SGD with momentum, here Adam 2e-4 (beta_1 0.5); its generator "
                  "had no batch norm: trained with Adam, that generator collapsed onto one digit "
                  "within 3 epochs here (class entropy of 10,000 samples 0 nats, measured by the "
                  "mode-collapse monitor), so this one normalises its hidden layers. The paper's networks (G 2x1200, D "
                  "2x240 with 5 maxout pieces: 3.7M parameters, 15 MB of weights) exceed the "
                  "zoo's 10 MB preset budget; this one has G 2x1024 and 2 maxout pieces (2.4M). "
                  "Measured at 30 epochs on the same protocol: the paper-size networks FD 13.20, "
                  "Parzen 151.2; G 2x512 with 5 pieces FD 34.10, Parzen 120.9 (the generator's "
                  "width matters most).",
        "pictures": ADVERSARIAL_PICTURES,
    },
    "dcgan_mnist": {
        "train": {**MNIST_ADVERSARIAL, "model": "dcgan", "latent_dim": 100,
                  "filters": [64, 128], "epochs": 5},
        "metrics": SAMPLE_METRICS,
        "title": "DCGAN on MNIST grey levels (G 100 -> 7x7x128 -> 14x14x64 -> 28x28, D the "
                 "mirror image, 5x5 stride-2 convolutions, batch norm)",
        "paper": "Radford, Metz & Chintala, Unsupervised Representation Learning with Deep "
                 "Convolutional Generative Adversarial Networks, ICLR 2016",
        "anchor": "The paper reports no MNIST likelihood or FD. A large-scale study (Lucic et "
                  "al. 2018) measured MNIST FID in Inception features: NS-GAN 6.8, VAE 23.8, "
                  "not comparable with the zoo's classifier-feature FD; the ordering (GANs far "
                  "ahead of VAEs on sample quality) is what to compare.",
        "limits": "The paper's architecture scaled to 28x28 (two stride-2 layers instead of "
                  "four) and trained 5 epochs on CPU.",
        "pictures": [*ADVERSARIAL_PICTURES, "arithmetic"],
    },
    "lapgan_mnist": {
        "train": {**MNIST_ADVERSARIAL, "model": "lapgan", "latent_dim": 100, "levels": 3,
                  "coarse_units": [600, 600], "filters": [32], "epochs": 5},
        "metrics": SAMPLE_METRICS,
        "title": "LAPGAN on MNIST grey levels (pyramid 7 -> 14 -> 28: an MLP GAN for 7x7, "
                 "conditional conv GANs for the band-pass residuals)",
        "paper": "Denton, Chintala, Szlam & Fergus, Deep Generative Image Models using a "
                 "Laplacian Pyramid of Adversarial Networks, NeurIPS 2015",
        "anchor": "The paper measures CIFAR-10, STL and LSUN (Parzen and human studies), not "
                  "MNIST; no published MNIST figure to compare.",
        "limits": "Sized for CPU: 32-channel convolutions at the finer levels (the paper used "
                  "128), 5 epochs.",
        "pictures": [*ADVERSARIAL_PICTURES, "pyramid"],
    },
    "vaegan_mnist": {
        "train": {**MNIST_ADVERSARIAL, "model": "vaegan", "latent_dim": 50, "network": "conv",
                  "conv_filters": [32, 64], "hidden_units": [256],
                  "discriminator_filters": [32, 64], "gamma": 0.1, "activation": "relu",
                  "epochs": 5},
        "metrics": "elbo,nll," + SAMPLE_METRICS,
        # The pixel-likelihood bound of a feature-space model, on the binarized test set: a
        # cheaper protocol (the conv decoder at k=5000 on 10k images would take hours here).
        "nll_samples": 100, "nll_images": 1000, "nll_binarization": "dynamic",
        "title": "VAE-GAN on MNIST grey levels (conv encoder/decoder 32-64, z = 50; DCGAN-style "
                 "discriminator 32-64 whose last convolution is the feature space)",
        "paper": "Larsen, Sønderby, Larochelle & Winther, Autoencoding beyond pixels using a "
                 "learned similarity metric, ICML 2016",
        "anchor": "The paper measures CelebA (attribute similarity, pictures), not MNIST "
                  "likelihoods; the aim here: samples sharper than vae_mnist's with an FD "
                  "between the VAE's and the DCGAN's.",
        "card_text": "gamma = 0.1: summed over the discriminator layer's 3,136 features, the "
                     "feature-space error is some hundreds of nats early in training against a "
                     "few nats of GAN loss (measured over the first 60 steps: 467 against 7), so "
                     "with gamma = 1 the decoder would hardly feel the GAN term.",
        "limits": "Trained on grey levels with the feature-space reconstruction only (the "
                  "paper's model): its NLL bound uses a Bernoulli pixel likelihood that "
                  "training never fits, on the binarized test set, with a reduced protocol "
                  "(k=100, 1000 images).",
        "pictures": ["samples", "reconstructions", "curves"],
    },
}
