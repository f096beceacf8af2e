# Random numbers inside the kernels: xoshiro256** (Blackman & Vigna 2018).
#
# Each stream of a random learner owns 4 words of state, kept with the learner's state as
# int64 (so it pickles and resumes exactly) and seeded from the estimator's random_state.

from libc.stdint cimport uint64_t


cdef inline uint64_t _rotl(uint64_t x, int k) noexcept nogil:
    return (x << k) | (x >> (64 - k))


cdef inline uint64_t rng_next(uint64_t* s) noexcept nogil:
    cdef uint64_t result = _rotl(s[1] * 5, 7) * 9
    cdef uint64_t t = s[1] << 17
    s[2] ^= s[0]
    s[3] ^= s[1]
    s[1] ^= s[2]
    s[0] ^= s[3]
    s[2] ^= t
    s[3] = _rotl(s[3], 45)
    return result


cdef inline double rng_sign(uint64_t* s) noexcept nogil:
    """+1 or -1 with probability 1/2 each."""
    return 1.0 if (rng_next(s) >> 63) else -1.0
