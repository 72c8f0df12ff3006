"""One model per file; each registers itself under its command-line name in `MODELS`."""

from zoo.models.autoencoder import Autoencoder
from zoo.models.cvae import CVAE
from zoo.models.conv_draw import ConvDRAW
from zoo.models.draw import DRAW
from zoo.models.encoder_decoder import EncoderDecoderModel
from zoo.models.gae import GAE
from zoo.models.iwae import IWAE
from zoo.models.m1m2 import M1M2
from zoo.models.m2 import M2
from zoo.models.registry import MODELS
from zoo.models.vae import VAE
from zoo.models.vamp import VampPrior
from zoo.models.pixel_lstm import PixelLSTM
from zoo.models.pixelcnn import PixelCNN
from zoo.models.conditional_pixelcnn import ConditionalPixelCNN
from zoo.models.note_rnn import NoteRNN
from zoo.models.vrae import VRAE
from zoo.models.vrnn import VRNN
from zoo.models.gan import GAN
from zoo.models.dcgan import DCGAN
from zoo.models.conditional_dcgan import ConditionalDCGAN
from zoo.models.lapgan import LAPGAN
from zoo.models.vaegan import VAEGAN
