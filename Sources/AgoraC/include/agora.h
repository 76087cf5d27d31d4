/*
 * agora.h: the C ABI of Agora (libAgoraC.so), for embedding Agora's kernels from C, Python
 * (ctypes/cffi) or any language with a C foreign-function interface.
 *
 * Conventions
 * - Every function that can fail returns an agora_status (AGORA_OK = 0) and writes a
 *   NUL-terminated message into the caller's buffer `message` of `message_size` bytes (truncated
 *   to fit; NULL or 0 for no message). Bad arguments (NULL pointers, negative or mismatched sizes,
 *   unknown names, overlapping buffers) are reported, never trapped.
 * - Arrays are row-major and owned by the caller; Agora reads and writes them in place, without
 *   copies. An agents x dim parameter matrix is `agents * dim` contiguous elements.
 * - Results do not depend on the number of threads (AGORA_NUM_THREADS sets it).
 * - agora_abi_version() changes whenever a signature or a meaning below changes.
 */
#ifndef AGORA_H
#define AGORA_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define AGORA_ABI_VERSION 4

typedef int32_t agora_status;
enum {
    AGORA_OK = 0,
    AGORA_ERROR_ARGUMENT = 1,      /* NULL pointer, negative size, unknown name, overlapping buffers */
    AGORA_ERROR_SHAPE = 2,         /* sizes that do not fit together */
    AGORA_ERROR_CONFIGURATION = 3, /* a value out of its valid range (topology, weights, ...) */
    AGORA_ERROR_DATA = 4,          /* malformed data */
    AGORA_ERROR_IO = 5,            /* a file that cannot be read or written */
    AGORA_ERROR_NUMERICAL = 6,     /* divergence or solver failure */
    AGORA_ERROR_RESOURCES = 7      /* more memory than allowed (AGORA_MEMORY_LIMIT) */
};

/* The ABI version this library implements (AGORA_ABI_VERSION of its header). */
int32_t agora_abi_version(void);

/* A communication graph with its mixing matrix W (symmetric, doubly stochastic). */
typedef struct agora_topology agora_topology;

/* Builds a topology: `topology` as the CLI spells it ("ring", "torus:4x8", "exponential",
 * "one-peer-exponential", "erdos-renyi:0.2", "regular:4", "small-world:4:0.1", "file:PATH", ...),
 * `weights` one of "metropolis", "max-degree", "uniform", "lazy-metropolis" (ignored for weighted
 * edge-list files), `seed` for random families, `iteration` for time-varying schedules.
 * On success *out owns the topology: free it with agora_topology_free. */
agora_status agora_topology_create(const char *topology, int64_t agents, const char *weights, uint64_t seed,
                                   int64_t iteration, agora_topology **out, char *message, size_t message_size);
void agora_topology_free(agora_topology *topology);

/* Agents, and stored entries of W (the diagonal included). 0 for a NULL topology. */
int64_t agora_topology_agents(const agora_topology *topology);
int64_t agora_topology_nonzeros(const agora_topology *topology);

/* W in CSR form: row_start[agents + 1], columns[nonzeros], values[nonzeros] (row i lists agent
 * i first, then its neighbours ascending). */
agora_status agora_topology_csr(const agora_topology *topology, int64_t *row_start, int32_t *columns, double *values,
                                char *message, size_t message_size);

/* Neighbour counts, degrees[agents]. */
agora_status agora_topology_degrees(const agora_topology *topology, int64_t *degrees, char *message, size_t message_size);

/* 1 - max(|lambda_2|, |lambda_n|) of W, and how it was computed (method: 0 circulant closed form,
 * 1 dense LAPACK, 2 Lanczos estimate; may be NULL). */
agora_status agora_topology_spectral_gap(const agora_topology *topology, double *gap, int32_t *method,
                                         char *message, size_t message_size);

/* Y = W X for X, Y of agents x dim (Y must not overlap X). */
agora_status agora_mix_f32(const agora_topology *topology, const float *x, int64_t agents, int64_t dim, float *y,
                           char *message, size_t message_size);
agora_status agora_mix_f64(const agora_topology *topology, const double *x, int64_t agents, int64_t dim, double *y,
                           char *message, size_t message_size);

/* The fused decentralized update Y = W X - diag(step_sizes) M for X, M, Y of agents x dim and
 * step_sizes[agents] (Y must not overlap X or M). */
agora_status agora_mix_step_f32(const agora_topology *topology, const float *x, int64_t agents, int64_t dim,
                                const float *step_sizes, const float *directions, float *y,
                                char *message, size_t message_size);
agora_status agora_mix_step_f64(const agora_topology *topology, const double *x, int64_t agents, int64_t dim,
                                const double *step_sizes, const double *directions, double *y,
                                char *message, size_t message_size);

/* Truthful decentralized SGD (Chen & Wang): net payments P_i = sum_j C_t omega_ij (s_i - s_j) of
 * every agent at `iteration` from the reported squared norms s (reports[agents]), with
 * C_t = c0 (t + 1)^-u and edge_weighting 0 (omega = 1), 1 (mixing weight) or 2 (2 / (d_i + d_j)).
 * Positive: the agent pays. They sum to zero. */
agora_status agora_dsgd_payments(const agora_topology *topology, int64_t iteration, const double *reports, int64_t agents,
                                 double c0, double u, int32_t edge_weighting, double *payments,
                                 char *message, size_t message_size);

/* One mechanism step: next = W_t parameters - lambda_t applied with lambda_t = lr0 (t + 1)^-v
 * (agents x dim, float32), and the payments as above (c0 = 0: payments off, all zero). reports
 * NULL: the truthful reports ||applied_i||^2, computed here (accumulated in double). */
agora_status agora_dsgd_step_f32(const agora_topology *topology, int64_t iteration, const float *parameters,
                                 const float *applied, int64_t agents, int64_t dim, const double *reports,
                                 double lr0, double v, double c0, double u, int32_t edge_weighting,
                                 float *next, double *payments, char *message, size_t message_size);

/* A data set for the gradient kernels, copied once into Agora (parameters and gradients, which
 * change every step, stay the caller's). Dense: x[rows * cols]; CSR: row_start[rows + 1],
 * columns[nnz], values[nnz]. targets[rows]: +1/-1 for logistic regression, real values for least
 * squares. Free with agora_features_free. */
typedef struct agora_features agora_features;
agora_status agora_features_create_dense_f32(const float *x, int64_t rows, int64_t cols, const float *targets,
                                             agora_features **out, char *message, size_t message_size);
agora_status agora_features_create_csr_f32(int64_t rows, int64_t cols, const int64_t *row_start, const int32_t *columns,
                                           const float *values, const float *targets, agora_features **out,
                                           char *message, size_t message_size);
void agora_features_free(agora_features *features);

/* Mini-batch gradients of an L2-regularised linear model for every agent at once: row a of
 * gradients (agents x dim) becomes (1/|B_a|) sum_{i in B_a} l'(x_i . theta_a, y_i) x_i + l2 theta_a
 * and losses[a] the mean loss plus (l2/2)||theta_a||^2; loss 0 logistic, 1 squared. Batches in CSR
 * form: agent a's rows are batch_rows[batch_start[a] .. batch_start[a + 1]). Deterministic on any
 * number of threads. */
agora_status agora_glm_gradients_f32(const agora_features *features, int32_t loss, float l2, const float *parameters,
                                     int64_t agents, int64_t dim, const int64_t *batch_start, const int64_t *batch_rows,
                                     float *gradients, float *losses, char *message, size_t message_size);

/* A LeNet-style convolutional network: images of channels x height x width (rows in (C, H, W)
 * order), `convolutions` blocks given as conv[3 * convolutions] = (out channels, kernel, padding)
 * triples (each convolution of stride 1 is followed by ReLU and a 2 x 2 max-pool), `hidden_layers`
 * dense ReLU layers of hidden[] units, then `classes` scores and softmax cross-entropy. Parameters
 * are one flat row in PyTorch's state_dict order (per layer its weight, then its bias).
 * agora_cnn_parameter_count: the row's length. agora_cnn_gradients_f32: for every agent at once,
 * the mean cross-entropy gradient of its batch plus l2 * theta (every parameter), and its loss plus
 * (l2/2)||theta||^2; labels[rows] are classes 0..classes-1; batches in CSR form as for
 * agora_glm_gradients_f32. The images are copied for the call. Deterministic on any number of
 * threads. */
agora_status agora_cnn_parameter_count(int64_t channels, int64_t height, int64_t width, int64_t convolutions,
                                       const int64_t *conv, int64_t hidden_layers, const int64_t *hidden, int64_t classes,
                                       int64_t *count, char *message, size_t message_size);
agora_status agora_cnn_gradients_f32(const float *images, int64_t rows, const int32_t *labels, int64_t channels,
                                     int64_t height, int64_t width, int64_t convolutions, const int64_t *conv,
                                     int64_t hidden_layers, const int64_t *hidden, int64_t classes, float l2,
                                     const float *parameters, int64_t agents, int64_t params, const int64_t *batch_start,
                                     const int64_t *batch_rows, float *gradients, float *losses, char *message,
                                     size_t message_size);

/* OpenBLAS's kernels. agora_blas_core: the kernel set this process runs (e.g. "Zen", "SkylakeX").
 * agora_blas_core_advice: 1, a better core and why, when OpenBLAS chose kernels below the CPU's
 * instruction set (set OPENBLAS_CORETYPE to it before the library loads); else 0. agora_blas_verify:
 * sgemm, ssyrk, dgemm and dsyev against naive references (AGORA_ERROR_NUMERICAL on a wrong answer). */
void agora_blas_core(char *name, size_t name_size);
int32_t agora_blas_core_advice(char *core, size_t core_size, char *reason, size_t reason_size);
agora_status agora_blas_verify(char *message, size_t message_size);

/* The geometry of models measured as updates u_i = models_i - origin (clients x params, float):
 * norms[clients] = ||u_i||, and, unless NULL, cosines[clients * clients] = cos(u_i, u_j) (0 where
 * a norm is zero), from one Gram matrix (SYRK). */
agora_status agora_update_geometry_f32(int64_t clients, int64_t params, const float *models, const float *origin,
                                       float *norms, float *cosines, char *message, size_t message_size);

/* One server step of the iPFL model-sharing market (Zhang et al.): distances between the uploaded
 * models' updates, the collaboration graph (per-importer thresholds), marginal-benefit payments and
 * the prox centres. Reports (sizes N, export costs c, eagerness K; clients each) drive the market;
 * true_* (or all three NULL: the reports) give the utilities. active[clients] (NULL: all) leaves
 * clients out. settled[clients] (NULL: all) says whose purchases are paid for: a buyer with
 * settled[i] = 0 (its training will not use what it bought) keeps its imports in the graph but
 * pays nothing, gains nothing and costs its exporters nothing. lambda > 0, eta > 0; distance 0 cosine / 1 squared L2; tie_break 0 index / 1 seeded
 * random (seed); centre_step 0 relative (scale-free, Agora's default) / 1 absolute (the paper's).
 * Outputs: imports[clients * clients]: row i lists the exporters i buys from in purchase order, -1
 * after the last; payments[clients * clients]: r_ij paid by i to j (0 where i does not buy from j);
 * net_payments[clients] (paid - received, summing to zero); utilities[clients] (true gain - export
 * cost - net payment); optional distances[clients * clients] (double) and centres[clients * params]
 * (float). The uploaded models are copied once (the Gram and the centres read them). */
agora_status agora_market_step_f32(int64_t clients, int64_t params, const float *uploaded, const float *origin,
                                   const double *sizes, const double *costs, const double *eagerness,
                                   const double *true_sizes, const double *true_costs, const double *true_eagerness,
                                   const uint8_t *active, const uint8_t *settled, double lambda, double eta, int32_t distance, int32_t tie_break,
                                   int32_t centre_step, uint64_t seed, int32_t *imports, double *payments,
                                   double *net_payments, double *utilities, double *distances, float *centres,
                                   char *message, size_t message_size);

/* The optimal contract menu paid with models (Wang, Wu, Liu, Low): N participants, `types` types
 * (at most 20) with probabilities p, marginal costs c and optionally reservation utilities f
 * (NULL: computed), accuracy constant k, valuation scale, size_biased (0: truncated conditioning),
 * samples (0: exact enumeration of outcomes; else the sample-average estimator from `seed`).
 * Outputs, in the caller's type order:
 *   per_type[7 * types]: contributions, values, utilities, reservation utilities, stand-alone
 *     contributions, rents, budgets (each `types` long, in that order);
 *   scalars[9]: expected value, expected accuracy, complete-information value, information cost,
 *     KKT residual, Newton steps, outcomes, samples, standard error of the expected value (NaN exact);
 *   pool_of[types]: the smallest type index offered the same contract (pooled types share it);
 *   finish: how the solver finished (NUL-terminated, truncated to finish_size). */
agora_status agora_contract_solve(int64_t participants, int64_t types, const double *p, const double *c, const double *f,
                                  double k, double valuation_scale, int32_t size_biased, int64_t samples, uint64_t seed,
                                  double *per_type, double *scalars, int32_t *pool_of, char *finish, size_t finish_size,
                                  char *message, size_t message_size);

#ifdef __cplusplus
}
#endif
#endif
