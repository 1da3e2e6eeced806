"""``torch.nn.utils.rnn``: variable-length batches for the recurrent layers.

A :class:`PackedSequence` holds a batch of sequences of different lengths
without padding: ``data`` stacks, time step by time step, the rows of the
sequences still running at that step (longest first), and ``batch_sizes[t]``
says how many there are.  ``nn.RNN``/``LSTM``/``GRU`` take one as input and
then skip the padding entirely.  The functions convert between padded
tensors, lists of tensors and packed sequences; every conversion is a
gather (``index_select``) or a concatenation, so gradients flow through
them to the padded input.

Example::

    >>> import distgrad
    >>> from distgrad.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence
    >>> x = distgrad.tensor([[1.0, 2.0], [3.0, 0.0], [4.0, 0.0]])   # (T=3, B=2), lengths 3 and 1
    >>> p = pack_padded_sequence(x, [3, 1])
    >>> p.data, p.batch_sizes
    (tensor([1., 2., 3., 4.]), tensor([2, 1, 1]))
    >>> pad_packed_sequence(p)[1]
    tensor([3, 1])
"""
import collections

import numpy as np  # host-side only: lengths, batch sizes and gather indices are small int arrays

from distgrad import dtypes
from distgrad.autograd.ops.join import cat, stack
from distgrad.autograd.tensor import Tensor
from distgrad.creation import as_tensor, full, tensor


def invert_permutation(permutation):
    """The inverse of a permutation given as an int64 tensor (None stays None)."""
    if permutation is None:
        return None
    p = np.asarray(permutation.tolist(), dtype=np.int64)
    inv = np.empty_like(p)
    inv[p] = np.arange(p.size)
    return tensor(inv.tolist(), dtype=dtypes.int64, device=permutation.device)


_Fields = collections.namedtuple("PackedSequence_", ["data", "batch_sizes", "sorted_indices", "unsorted_indices"])


class PackedSequence(_Fields):
    """A packed batch of variable-length sequences (``torch.nn.utils.rnn.PackedSequence``).

    Fields: ``data`` (sum of lengths, *), ``batch_sizes`` (an int64 CPU tensor,
    one entry per time step), ``sorted_indices`` (the batch order the data is
    in, or None when the input was already sorted) and ``unsorted_indices``
    (its inverse).  Build one with :func:`pack_padded_sequence` or
    :func:`pack_sequence` rather than by hand.

    Example::

        >>> p = pack_sequence([distgrad.ones(3), distgrad.ones(2)])
        >>> p.batch_sizes
        tensor([2, 2, 1])
    """

    __slots__ = ()

    def __new__(cls, data, batch_sizes=None, sorted_indices=None, unsorted_indices=None):
        if batch_sizes is None:  # PackedSequence((data, batch_sizes)), as PyTorch allows
            data, batch_sizes = data
        if not isinstance(batch_sizes, Tensor):
            batch_sizes = tensor(list(batch_sizes), dtype=dtypes.int64)
        if batch_sizes.device.type != "cpu":
            raise ValueError("batch_sizes should always be on CPU. Instances of PackedSequence should never be "
                             "created manually. They should be instantiated by functions like pack_sequence and "
                             "pack_padded_sequences in nn.utils.rnn. "
                             "https://pytorch.org/docs/stable/nn.html#torch.nn.utils.rnn.pack_sequence")
        if unsorted_indices is None:
            unsorted_indices = invert_permutation(sorted_indices)
        return super().__new__(cls, data, batch_sizes, sorted_indices, unsorted_indices)

    def to(self, *args, **kwargs):
        """The same sequences with ``data.to(*args, **kwargs)``; the indices follow data's device."""
        data = self.data.to(*args, **kwargs)
        if data is self.data:
            return self
        move = (lambda t: None if t is None else t.to(data.device))
        return type(self)(data, self.batch_sizes, move(self.sorted_indices), move(self.unsorted_indices))

    def cuda(self, *args, **kwargs):
        """On the GPU (``to('cuda')``)."""
        return self.to(*args, device="cuda", **kwargs)

    def cpu(self, *args, **kwargs):
        """On the CPU."""
        return self.to(*args, device="cpu", **kwargs)

    def double(self):
        return self.to(dtype=dtypes.float64)

    def float(self):
        return self.to(dtype=dtypes.float32)

    def half(self):
        return self.to(dtype=dtypes.float16)

    def long(self):
        return self.to(dtype=dtypes.int64)

    def int(self):
        return self.to(dtype=dtypes.int32)

    @property
    def is_cuda(self):
        """Whether ``data`` is on a GPU."""
        return self.data.device.type == "cuda"

    def is_pinned(self):
        """Always False: distgrad has no pinned host memory."""
        return False


def _lengths_list(lengths):
    if isinstance(lengths, Tensor):
        return [int(v) for v in lengths.reshape(-1).tolist()]
    return [int(v) for v in lengths]


def _batch_sizes(lengths):
    """``batch_sizes[t]`` = how many of the (sorted, decreasing) ``lengths`` exceed ``t``."""
    lens = np.asarray(lengths, dtype=np.int64)
    return (lens[None, :] > np.arange(int(lens.max()))[:, None]).sum(axis=1)


def _packed_rows(batch_sizes, batch):
    """For each packed row, its index in the time-major flattened (T * batch) padded tensor."""
    return np.concatenate([t * batch + np.arange(b) for t, b in enumerate(batch_sizes)])


def pack_padded_sequence(input, lengths, batch_first=False, enforce_sorted=True):
    """Pack a padded batch (T, B, *) - (B, T, *) with ``batch_first`` - of sequences with ``lengths``.

    With ``enforce_sorted=True`` the lengths must be decreasing; with False
    the batch is sorted here and the order kept in ``sorted_indices``, so
    the recurrent layers and :func:`pad_packed_sequence` restore it.

    Example::

        >>> x = distgrad.arange(6.0).reshape(2, 3)   # batch_first: 2 sequences, padded to 3
        >>> pack_padded_sequence(x, distgrad.tensor([2, 3]), batch_first=True, enforce_sorted=False).data
        tensor([3., 0., 4., 1., 5.])
    """
    lens = _lengths_list(lengths)
    batch_dim, time_dim = (0, 1) if batch_first else (1, 0)
    if input.ndim < 2:
        raise RuntimeError(f"pack_padded_sequence: expected a padded input of at least 2 dims (T, B, *), got "
                           f"shape {list(input.shape)}")
    batch, steps = input.shape[batch_dim], input.shape[time_dim]
    if len(lens) != batch:
        raise RuntimeError(f"Expected `len(lengths)` to be equal to batch_size, but got {len(lens)} "
                           f"(batch_size={batch})")
    if lens and min(lens) <= 0:
        raise RuntimeError("Length of all samples has to be greater than 0, but found an element in 'lengths' "
                           "that is <= 0")
    if lens and max(lens) > steps:
        raise RuntimeError(f"pack_padded_sequence: a length ({max(lens)}) exceeds the padded sequence length "
                           f"{steps} of input shape {list(input.shape)}")
    sorted_indices = None
    if enforce_sorted:
        if any(a < b for a, b in zip(lens, lens[1:])):
            raise RuntimeError("`lengths` array must be sorted in decreasing order when `enforce_sorted` is True. "
                               "You can pass `enforce_sorted=False` to pack_padded_sequence and/or pack_sequence to "
                               "sidestep this requirement if you do not need ONNX exportability.")
    else:
        order = np.argsort(-np.asarray(lens, dtype=np.int64), kind="stable")
        lens = [lens[i] for i in order]
        sorted_indices = tensor(order.tolist(), dtype=dtypes.int64, device=input.device)
        input = input.index_select(batch_dim, sorted_indices)
    if batch_first:
        input = input.transpose(0, 1)
    sizes = _batch_sizes(lens)
    rows = tensor(_packed_rows(sizes, batch).tolist(), dtype=dtypes.int64, device=input.device)
    data = input.reshape(steps * batch, *input.shape[2:]).index_select(0, rows)
    return PackedSequence(data, tensor(sizes.tolist(), dtype=dtypes.int64), sorted_indices)


def pad_packed_sequence(sequence, batch_first=False, padding_value=0.0, total_length=None):
    """Undo :func:`pack_padded_sequence`: ``(padded, lengths)``, the batch in its original order.

    ``padded`` is (T, B, *) (or (B, T, *)) with T the longest length, or
    ``total_length`` when given; ``lengths`` is an int64 tensor.

    Example::

        >>> p = pack_sequence([distgrad.tensor([1.0, 2.0]), distgrad.tensor([3.0])])
        >>> pad_packed_sequence(p, batch_first=True, padding_value=-1.0)
        (tensor([[ 1.,  2.],
                [ 3., -1.]]), tensor([2, 1]))
    """
    data, sizes = sequence.data, np.asarray(sequence.batch_sizes.tolist(), dtype=np.int64)
    steps, batch = len(sizes), int(sizes[0])
    if total_length is not None:
        if total_length < steps:
            raise ValueError(f"Expected total_length to be at least the length of the longest sequence in input, "
                             f"but got total_length={total_length} and max sequence length being {steps}")
        steps_out = total_length
    else:
        steps_out = steps
    # every padded position reads its packed row, or the extra padding row appended at the end
    where = np.full((steps_out, batch), data.shape[0], dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    for t, (off, b) in enumerate(zip(offsets, sizes)):
        where[t, :b] = off + np.arange(b)
    pad_row = full((1, *data.shape[1:]), padding_value, dtype=data.dtype, device=data.device)
    index = tensor(where.reshape(-1).tolist(), dtype=dtypes.int64, device=data.device)
    padded = cat([data, pad_row]).index_select(0, index).reshape(steps_out, batch, *data.shape[1:])
    lengths = (sizes[None, :] > np.arange(batch)[:, None]).sum(axis=1)
    if batch_first:
        padded = padded.transpose(0, 1)
    if sequence.unsorted_indices is not None:
        padded = padded.index_select(0 if batch_first else 1, sequence.unsorted_indices)
        lengths = lengths[np.asarray(sequence.unsorted_indices.tolist(), dtype=np.int64)]
    return padded, tensor(lengths.tolist(), dtype=dtypes.int64)


def pad_sequence(sequences, batch_first=False, padding_value=0.0, padding_side="right"):
    """Stack tensors of shape (L_i, *) into (T, B, *) (or (B, T, *)), padding each to the longest.

    ``padding_side='left'`` puts the padding before each sequence.

    Example::

        >>> pad_sequence([distgrad.ones(2), distgrad.ones(1)], batch_first=True)
        tensor([[1., 1.],
                [1., 0.]])
    """
    if padding_side not in ("left", "right"):
        raise RuntimeError(f"Expected padding_side to be one of left or right, but got {padding_side}.")
    seqs = list(sequences.unbind(0)) if isinstance(sequences, Tensor) else list(sequences)
    if not seqs:
        raise RuntimeError("received an empty list of sequences")
    trailing = tuple(seqs[0].shape[1:])
    for s in seqs[1:]:
        if tuple(s.shape[1:]) != trailing:
            if len(s.shape[1:]) != len(trailing):
                raise RuntimeError(f"pad_sequence: every sequence needs the trailing shape {list(trailing)} of the "
                                   f"first, but one has shape {list(s.shape)}")
            dim = next(i for i, (a, b) in enumerate(zip(trailing, s.shape[1:])) if a != b)
            raise RuntimeError(f"The size of tensor a ({trailing[dim]}) must match the size of tensor b "
                               f"({s.shape[dim + 1]}) at non-singleton dimension {dim + 1}")
    longest = max(s.shape[0] for s in seqs)
    padded = []
    for s in seqs:
        short = longest - s.shape[0]
        if short:
            pad = full((short, *s.shape[1:]), padding_value, dtype=s.dtype, device=s.device)
            s = cat([s, pad] if padding_side == "right" else [pad, s])
        padded.append(s)
    return stack(padded, 0 if batch_first else 1)


def unpad_sequence(padded_sequences, lengths, batch_first=False):
    """Split a padded batch back into its sequences: a list of (L_i, *) tensors.

    Example::

        >>> [t.tolist() for t in unpad_sequence(distgrad.tensor([[1.0, 2.0], [3.0, 0.0]]), [2, 1],
        ...                                     batch_first=True)]
        [[1.0, 2.0], [3.0]]
    """
    if not batch_first:
        padded_sequences = padded_sequences.transpose(0, 1)
    return [padded_sequences[i, :n] for i, n in enumerate(_lengths_list(lengths))]


def pack_sequence(sequences, enforce_sorted=True):
    """Pack a list of (L_i, *) tensors; with ``enforce_sorted`` the lengths must be decreasing.

    Example::

        >>> pack_sequence([distgrad.tensor([1.0]), distgrad.tensor([2.0, 3.0])], enforce_sorted=False).data
        tensor([2., 1., 3.])
    """
    lengths = as_tensor([s.shape[0] for s in sequences], dtype=dtypes.int64)
    return pack_padded_sequence(pad_sequence(sequences), lengths, enforce_sorted=enforce_sorted)


def unpack_sequence(packed_sequences):
    """The list of tensors a :class:`PackedSequence` holds, in the original batch order.

    Example::

        >>> [t.tolist() for t in unpack_sequence(pack_sequence([distgrad.ones(2), distgrad.ones(1)]))]
        [[1.0, 1.0], [1.0]]
    """
    padded, lengths = pad_packed_sequence(packed_sequences, batch_first=True)
    return unpad_sequence(padded, lengths, batch_first=True)
