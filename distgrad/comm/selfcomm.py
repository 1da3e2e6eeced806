"""The world of one process: a stand-in for an MPI communicator when there is no MPI.

A script started with plain ``python`` (or ``distgrad-launch -n 1``) still
calls ``init_process_group`` and every collective; with one process each
collective has an exact answer (an all-reduce leaves the tensor as it is, an
all-gather copies it, ...).  :class:`SelfComm` gives those answers through the
same buffer-method names the MPI path calls (``Allreduce``, ``Bcast``, ...), so
:class:`distgrad.comm.group.ProcessGroup` has one code path for both.

Buffer specs are the ones the group passes to mpi4py: ``[array, datatype]``
or ``[array, (counts, displacements), datatype]``; the datatype is ignored.

Messages a process sends to itself (``isend``/``irecv`` with its own rank,
which PyTorch allows) go through :class:`Mailbox`.

Example::

    >>> import numpy as np
    >>> c = SelfComm()
    >>> out = np.zeros(3)
    >>> c.Allgather([np.arange(3.0), None], [out, None]); out
    array([0., 1., 2.])
"""
import collections

import numpy as np

IN_PLACE = object()


def _arr(spec):
    return spec[0]


class SelfComm:
    """A communicator with one rank, implementing the buffer collectives as copies."""

    rank = 0
    size = 1

    def Get_rank(self):
        return 0

    def Get_size(self):
        return 1

    def Barrier(self):
        pass

    def Allreduce(self, sendbuf, recvbuf, op=None):
        if sendbuf is not IN_PLACE:
            _arr(recvbuf)[...] = _arr(sendbuf)

    def Bcast(self, buf, root=0):
        pass

    def Reduce(self, sendbuf, recvbuf, op=None, root=0):
        if sendbuf is not IN_PLACE and recvbuf is not None:
            _arr(recvbuf)[...] = _arr(sendbuf)

    def Allgather(self, sendbuf, recvbuf):
        _arr(recvbuf)[...] = _arr(sendbuf).reshape(_arr(recvbuf).shape)

    def Allgatherv(self, sendbuf, recvbuf):
        self.Allgather(sendbuf, recvbuf)

    def Reduce_scatter_block(self, sendbuf, recvbuf, op=None):
        self.Allgather(sendbuf, recvbuf)

    def Reduce_scatter(self, sendbuf, recvbuf, recvcounts=None, op=None):
        self.Allgather(sendbuf, recvbuf)

    def Alltoallv(self, sendbuf, recvbuf):
        self.Allgather(sendbuf, recvbuf)

    def Gatherv(self, sendbuf, recvbuf, root=0):
        self.Allgather(sendbuf, recvbuf)

    def Scatterv(self, sendbuf, recvbuf, root=0):
        self.Allgather(sendbuf, recvbuf)


class Mailbox:
    """Messages this process sent to itself, matched to receives by tag in posting order.

    ``post_send(tag, data)`` delivers to the oldest waiting receive with that
    tag or keeps a copy; ``post_recv(tag, deliver)`` takes the oldest kept
    message or waits for the next send.  ``deliver(data)`` is called with the
    payload once matched.
    """

    def __init__(self):
        self._messages = collections.defaultdict(collections.deque)
        self._waiting = collections.defaultdict(collections.deque)

    def post_send(self, tag, data):
        waiting = self._waiting[tag]
        if waiting:
            waiting.popleft()(data)
        else:
            self._messages[tag].append(np.array(data, copy=True))

    def post_recv(self, tag, deliver):
        """Return True when a kept message was delivered right away."""
        kept = self._messages[tag]
        if kept:
            deliver(kept.popleft())
            return True
        self._waiting[tag].append(deliver)
        return False
