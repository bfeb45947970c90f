"""GAN data augmentation (``commgan augment``) on scikit-learn's digits: the digits and their
classical augmentation (`digits`), the class-conditional GANs as records (`gans`), the
classifier (`classifier`), the study (`study`) and its statistics and files (`report`)."""
