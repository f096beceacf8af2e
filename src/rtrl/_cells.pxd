# Shared C types of the kernels and the cell interface consumed by every learner.

from cython cimport floating

ctypedef Py_ssize_t intp_t

cdef enum:
    MAX_GROUPS = 2          # recurrent weight groups per cell (GRU and Jordan have two)

cdef enum CellKind:
    CELL_ELMAN = 0
    CELL_GRU = 1
    CELL_LSTM = 2
    CELL_JORDAN = 3

cdef enum Nonlinearity:
    NL_TANH = 0
    NL_RELU = 1

cdef enum LossKind:
    LOSS_SQUARED = 0
    LOSS_SOFTMAX_CE = 1


ctypedef struct Layout:
    # Sizes and offsets of a network, built once in Python (rtrl.cells.Layout.to_kernel).
    int kind                     # CellKind
    int nonlinearity             # Nonlinearity (Elman, Jordan)
    double leak                  # Elman leak alpha; 1 = torch.nn.RNN
    intp_t n                     # hidden size
    intp_t m                     # input size
    intp_t n_out                 # outputs of the readout
    intp_t S                     # state size (2n for LSTM)
    intp_t n_groups              # recurrent weight groups W_g (rows x width)
    intp_t rows[MAX_GROUPS]      # r_g
    intp_t width[MAX_GROUPS]     # K_g = len(z_g)
    intp_t offset[MAX_GROUPS]    # offset of W_g (row-major) in the flat parameter vector
    intp_t z_offset[MAX_GROUPS]  # offset of z_g in the concatenated z buffer
    intp_t G_offset[MAX_GROUPS]  # offset of G_g (S x r_g, row-major) in the G buffer
    intp_t P                     # recurrent parameters = columns of the influence matrix
    intp_t readout_offset        # offset of R = [V | c] (n_out x (n+1)) in the flat vector
    intp_t n_params              # length of the flat parameter vector
    intp_t z_size                # sum of K_g
    intp_t G_size                # sum of S * r_g
    intp_t work_size             # scratch needed by cell_step


cdef void cell_step(const Layout* L,
                    const floating* w,        # IN  flat parameters
                    const floating* x,        # IN  input x_t (m)
                    const floating* s_prev,   # IN  state s_{t-1} (S)
                    floating* s_new,          # OUT state s_t (S)
                    floating* z,              # OUT z_g of every group (z_size)
                    floating* G,              # OUT G_g of every group (G_size), or NULL; only
                                              #     the cell's structural non-zeros are
                                              #     written: the caller clears G once
                    floating* D,              # OUT D_t (S x S), or NULL
                    floating* work            # scratch (work_size)
                    ) noexcept nogil

cdef floating readout_loss(const Layout* L,
                           const floating* w,   # IN  flat parameters (readout at its offset)
                           const floating* h,   # IN  hidden state h_t (n)
                           int loss_kind,
                           const floating* y,   # IN  regression target (n_out) or NULL
                           intp_t label,        # IN  class index for cross-entropy
                           floating weight,     # IN  sample weight w_t
                           floating* y_hat,     # OUT readout (n_out)
                           floating* e,         # OUT w_t * dL/dy_hat (n_out)
                           floating* e_bar,     # OUT w_t * dL/ds_t (S)
                           floating* grad       # IN/OUT += readout's direct gradient, or NULL
                           ) noexcept nogil

cdef void readout(const Layout* L, const floating* w, const floating* h,
                  floating* y_hat) noexcept nogil

cdef void cell_jvp(const Layout* L, const floating* w, const floating* G,
                   const floating* work, const floating* v, floating* out,
                   floating* scratch) noexcept nogil

cdef intp_t cell_jvp_inputs_size(const Layout* L) noexcept nogil

cdef void cell_jvp_inputs_save(const Layout* L, const floating* G, const floating* work,
                               floating* out) noexcept nogil

cdef void cell_jvp_inputs_load(const Layout* L, const floating* saved, floating* G,
                               floating* work) noexcept nogil

cdef void cell_step_matvec(const Layout* L, const floating* w, const floating* x,
                           const floating* s_prev, floating* s_new, floating* z, floating* G,
                           floating* work, const floating* v, floating* Wv,
                           floating* scratch) noexcept nogil

cdef void cell_hh_matvec(const Layout* L, const floating* w, const floating* v, floating* Wv,
                         floating* scratch) noexcept nogil

cdef void cell_jvp_from_hh(const Layout* L, const floating* saved, const floating* Wv,
                           const floating* v, floating* out) noexcept nogil

cdef void cell_step_jvp(const Layout* L, const floating* w, const floating* x,
                        const floating* s_prev, floating* s_new, floating* z, floating* G,
                        floating* work, const floating* v, floating* Dv,
                        floating* scratch) noexcept nogil

cdef intp_t cell_step_jvp_scratch(const Layout* L) noexcept nogil

cdef floating cell_D_entry(const Layout* L, const floating* w, const floating* G,
                           const floating* work, intp_t i, intp_t l) noexcept nogil

cdef void cell_vjp_G(const Layout* L, const floating* G, const floating* nu,
                     floating* out) noexcept nogil
