"""distgrad.nn.utils: gradient clipping, parameter/vector conversion and packed sequences (``rnn``).

Example::

    >>> import distgrad
    >>> from distgrad import nn
    >>> m = nn.Linear(3, 3)
    >>> m(distgrad.randn(4, 3)).sum().backward()
    >>> float(nn.utils.clip_grad_norm_(m.parameters(), 0.1)) > 0
    True
"""
from distgrad.nn.utils.clip_grad import clip_grad_norm_, clip_grad_value_  # noqa: F401
from distgrad.nn.utils.convert_parameters import parameters_to_vector, vector_to_parameters  # noqa: F401

clip_grad_norm = clip_grad_norm_  # PyTorch's deprecated alias
from distgrad.nn.utils import rnn  # noqa: F401,E402  (nn.utils.rnn: packed sequences)
