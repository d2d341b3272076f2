"""The fast path of `model.impl: scratch`: rnn, gru and lstm with their forward and
backward loops over one direction of one layer written out (backpropagation through time
by hand, not by autograd).

Each cell has torch.nn's weights and gate order, so state_dicts carry over unchanged:

    cell  gates G  rows of w_ih (G*H, D) and w_hh (G*H, H)
    rnn   1        h
    gru   3        r, z, h_tilde   (PyTorch and cuDNN apply r after U_h: r * (U_h h + b_hn))
    lstm  4        i, f, c_tilde, o

`forward(gx, w_hh, b_hh, h0, c0, reverse)` takes `gx` (T, B, G*H) = W_ih x_t + b for
every step, computed before the loop in one product (or a row lookup for one-hot input),
so the loop does one product per step with the fused recurrent weights. For rnn and lstm
`b` is b_ih + b_hh and `b_hh` is None (`bias_in_gx`); the gru keeps b_hh for its
candidate state and gets b = b_ih. It returns the
states `hs` (T+1, B, H) in time order with h0 at the end the direction starts from (first
going forward, last going in reverse), for the LSTM also the last memory c, and what
`backward` needs.

`backward(saved, grads, w_hh, reverse)` is backpropagation through time written out, as
cuDNN and oneDNN do it rather than as autograd would record it: the local derivatives of
every step come first in a few whole-sequence operations, the loop carries only the
chain through h_{t-1} (one product and a few elementwise operations per step), and the
weight gradient is one product over all steps. It returns the gradients of gx, w_hh,
b_hh, h0 and c0 (None for rnn and gru). tests/test_cells.py checks all of them against
torch.nn.

The functions are plain tensor code (no `out=` arguments), so torch.compile can turn
each whole loop into one graph (`model.compile`); eager and compiled run the same lines.
"""

from __future__ import annotations

import torch

from .base import (
    FusedCell,
    after_and_before,
    in_time_order,
    times,
    weight_gradients,
    with_start,
)

# h = act(...): the rnn's nonlinearity (linear: for tests of the gradient flow)
ACTIVATIONS = {"tanh": torch.tanh, "relu": torch.relu, "linear": lambda a: a}


class RNN(FusedCell):
    """Elman's simple recurrent network (d2l 8.4, nndl 6.1):
    h_t = tanh(W x_t + U h_{t-1} + b), or relu; nndl's residual SRN (6.5.2) adds h_{t-1}."""

    bias_in_gx = True

    def __init__(self, cfg):
        super().__init__(cfg)
        self.nonlinearity, self.residual = cfg.nonlinearity, cfg.residual

    def equations(self, gx_t, state, w_hh, b_hh):
        (h,) = state  # (B, H)
        a = ACTIVATIONS[self.nonlinearity](torch.addmm(b_hh, h, w_hh.t()) + gx_t)  # (B, H)
        return ((h + a if self.residual else a),), {}

    def forward(self, gx, w_hh, b_hh, h0, c0, reverse):
        act = torch.relu if self.nonlinearity == "relu" else torch.tanh
        w_t = w_hh.t().contiguous()  # (H, H): a contiguous copy makes each product faster
        h, hs, acts = h0, [], []
        for t in times(gx.shape[0], reverse):
            a = act(torch.addmm(gx[t], h, w_t))  # tanh(W x_t + U h_{t-1} + b)   (B, H)
            h = h + a if self.residual else a  # residual SRN: h_t = h_{t-1} + a
            hs.append(h)
            acts.append(a)
        hs = with_start(h0, hs, reverse)  # (T+1, B, H)
        return (hs,), (hs, in_time_order(acts, reverse) if self.residual else None)

    def backward(self, saved, grads, w_hh, reverse):
        hs, acts = saved
        (d_hs,) = grads  # (T+1, B, H): from the outputs and the final state
        out, h_prev = after_and_before(hs, reverse)
        d_out, d_before = after_and_before(d_hs, reverse)
        a = acts if self.residual else out  # (T, B, H)
        T = a.shape[0]
        # da/d(pre-activation) for every step at once
        local = (a > 0).to(a.dtype) if self.nonlinearity == "relu" else 1 - a * a
        dh = d_out[0 if reverse else T - 1]  # dL/dh of the step visited last
        d_pres = []
        for t in times(T, not reverse):
            d_pre = dh * local[t]  # (B, H)
            d_direct = d_before[t] + dh if self.residual else d_before[t]
            dh = torch.addmm(d_direct, d_pre, w_hh)  # dL/dh_{t-1}
            d_pres.append(d_pre)
        d_pre = in_time_order(d_pres, not reverse)  # (T, B, H) = dL/dgx
        return d_pre, weight_gradients(d_pre, h_prev)[0], None, dh, None


class GRU(FusedCell):
    """Gated recurrent unit (d2l 9.1, nndl 6.6.2), in PyTorch's form:
    r, z = sigmoid(W_r x + U_r h + b_r), sigmoid(W_z x + U_z h + b_z);
    h_tilde = tanh(W_h x + b_in + r * (U_h h + b_hn)); h = z * h + (1 - z) * h_tilde.
    d2l writes r * h inside the product; PyTorch and cuDNN apply r after it, which lets
    the three recurrent products fuse into one."""

    bias_in_gx = False
    sigmoid_gates = ("r", "z")

    def equations(self, gx_t, state, w_hh, b_hh):
        (h,) = state  # (B, H)
        x_r, x_z, x_h = gx_t.chunk(3, 1)  # W x_t + b_ih per block   (B, H) each
        u_r, u_z, u_h = torch.addmm(b_hh, h, w_hh.t()).chunk(3, 1)  # U h_prev + b_hh
        r = torch.sigmoid(x_r + u_r)  # reset gate
        z = torch.sigmoid(x_z + u_z)  # update gate
        h_tilde = torch.tanh(x_h + r * u_h)  # candidate state
        return (z * h + (1 - z) * h_tilde,), {"r": r, "z": z}

    def forward(self, gx, w_hh, b_hh, h0, c0, reverse):
        w_t = w_hh.t().contiguous()  # (H, 3H)
        h, hs, rs, zs, h_tildes, u_hs = h0, [], [], [], [], []
        for t in times(gx.shape[0], reverse):
            x_r, x_z, x_h = gx[t].chunk(3, 1)  # W x_t + b_ih, per gate   (B, H) each
            u_r, u_z, u_h = torch.addmm(b_hh, h, w_t).chunk(3, 1)  # U h_{t-1} + b_hh
            r = torch.sigmoid(x_r + u_r)  # reset gate
            z = torch.sigmoid(x_z + u_z)  # update gate
            h_tilde = torch.tanh(x_h + r * u_h)  # candidate state
            h = torch.lerp(h_tilde, h, z)  # z * h + (1 - z) * h_tilde, as PyTorch computes it
            hs.append(h)
            rs.append(r)
            zs.append(z)
            h_tildes.append(h_tilde)
            u_hs.append(u_h)
        hs = with_start(h0, hs, reverse)  # (T+1, B, H)
        saved = [in_time_order(s, reverse) for s in (rs, zs, h_tildes, u_hs)]
        return (hs,), (hs, *saved)

    def backward(self, saved, grads, w_hh, reverse):
        hs, r, z, h_tilde, u_h = saved  # (T, B, H) each but hs
        (d_hs,) = grads
        out, h_prev = after_and_before(hs, reverse)
        d_out, d_before = after_and_before(d_hs, reverse)
        T, B, H = out.shape
        # dh_t/d(pre-activation) of each gate, for every step at once
        d_pre_h = (1 - z) * (1 - h_tilde * h_tilde)  # through h_tilde
        d_pre_z = (h_prev - h_tilde) * z * (1 - z)  # through z
        d_pre_r = d_pre_h * u_h * r * (1 - r)  # through r
        to_u = torch.stack([d_pre_r, d_pre_z, d_pre_h * r], 2)  # (T, B, 3, H): dh_t/d(U h + b)
        dh = d_out[0 if reverse else T - 1]
        d_us, dhs = [], []
        for t in times(T, not reverse):
            d_u = (to_u[t] * dh.unsqueeze(1)).view(B, 3 * H)  # dL/d(U h_{t-1} + b_hh)
            dhs.append(dh)
            d_us.append(d_u)
            dh = torch.addmm(d_before[t] + dh * z[t], d_u, w_hh)  # dL/dh_{t-1}
        d_u = in_time_order(d_us, not reverse)  # (T, B, 3H)
        dh_all = in_time_order(dhs, not reverse)  # (T, B, H)
        d_gx = torch.cat([d_u[..., : 2 * H], d_pre_h * dh_all], 2)  # x_h is outside r * (...)
        return (d_gx, *weight_gradients(d_u, h_prev), dh, None)


class LSTM(FusedCell):
    """Long short-term memory (d2l 9.2, nndl 6.6.1):
    i, f, o = sigmoid(W x + U h + b) per gate; c_tilde = tanh(W_c x + U_c h + b_c);
    c = f * c + i * c_tilde; h = o * tanh(c)."""

    bias_in_gx = True
    sigmoid_gates = ("i", "f", "o")

    def equations(self, gx_t, state, w_hh, b_hh):
        h, c = state  # (B, H) each
        g_i, g_f, g_c, g_o = (torch.addmm(b_hh, h, w_hh.t()) + gx_t).chunk(4, 1)
        i, f, o = torch.sigmoid(g_i), torch.sigmoid(g_f), torch.sigmoid(g_o)  # gates
        c_tilde = torch.tanh(g_c)  # candidate memory
        c = f * c + i * c_tilde  # memory cell
        return (o * torch.tanh(c), c), {"i": i, "f": f, "o": o}

    def forward(self, gx, w_hh, b_hh, h0, c0, reverse):
        H = h0.shape[1]
        w_t = w_hh.t().contiguous()  # (H, 4H)
        h, c, hs, cs, gates = h0, c0, [], [], []
        for t in times(gx.shape[0], reverse):
            g = torch.addmm(gx[t], h, w_t)  # (B, 4H): W x_t + U h_{t-1} + b, activated in place
            i = g[:, :H].sigmoid_()  # input gate
            f = g[:, H : 2 * H].sigmoid_()  # forget gate
            c_tilde = g[:, 2 * H : 3 * H].tanh_()  # candidate memory
            o = g[:, 3 * H :].sigmoid_()  # output gate
            c = f * c + i * c_tilde  # memory cell
            h = o * torch.tanh(c)  # hidden state
            hs.append(h)
            cs.append(c)
            gates.append(g)
        hs = with_start(h0, hs, reverse)  # (T+1, B, H)
        saved = (hs, with_start(c0, cs, reverse), in_time_order(gates, reverse))
        return (hs, c), saved

    def backward(self, saved, grads, w_hh, reverse):
        hs, cs, gates = saved  # (T+1, B, H), (T+1, B, H), (T, B, 4H)
        d_hs, dc = grads  # dc: dL/d(last c)
        _, h_prev = after_and_before(hs, reverse)
        c, c_prev = after_and_before(cs, reverse)
        d_out, d_before = after_and_before(d_hs, reverse)
        i, f, c_tilde, o = gates.chunk(4, 2)
        T, B, H = c.shape
        tanh_c = torch.tanh(c)
        h_to_c = o * (1 - tanh_c * tanh_c)  # dh_t/dc_t
        # d(pre-activation) of i, f, c_tilde per unit of dL/dc_t, and of o per unit of dL/dh_t
        local = torch.cat(
            [
                c_tilde * i * (1 - i),
                c_prev * f * (1 - f),
                i * (1 - c_tilde * c_tilde),
                tanh_c * o * (1 - o),
            ],
            2,
        )  # (T, B, 4H)
        dh = d_out[0 if reverse else T - 1]
        d_pres = []
        for t in times(T, not reverse):
            dc = dc + dh * h_to_c[t]  # dL/dc_t: through c_{t+1} and through h_t
            d_pre = torch.cat([dc, dc, dc, dh], 1) * local[t]  # (B, 4H)
            dc = dc * f[t]  # dL/dc_{t-1} through c_t = f * c_{t-1} + ...
            dh = torch.addmm(d_before[t], d_pre, w_hh)  # dL/dh_{t-1}
            d_pres.append(d_pre)
        d_pre = in_time_order(d_pres, not reverse)  # (T, B, 4H) = dL/dgx
        return d_pre, weight_gradients(d_pre, h_prev)[0], None, dh, dc
