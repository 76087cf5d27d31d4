/* The C ABI from C: the header compiles, the library links, and a mix, a fused update and the
 * error paths behave as agora.h says. Exit status 0 on success; prints what failed otherwise. */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include "agora.h"

static int failures = 0;
#define CHECK(cond, ...) do { if (!(cond)) { fprintf(stderr, "FAILED %s:%d: ", __FILE__, __LINE__); fprintf(stderr, __VA_ARGS__); fputc('\n', stderr); failures++; } } while (0)

int main(void) {
    char msg[256];
    CHECK(agora_abi_version() == AGORA_ABI_VERSION, "ABI version %d, header %d", agora_abi_version(), AGORA_ABI_VERSION);

    agora_topology *t = NULL;
    CHECK(agora_topology_create("ring", 8, "metropolis", 0, 0, &t, msg, sizeof msg) == AGORA_OK, "create: %s", msg);
    CHECK(agora_topology_agents(t) == 8, "agents");
    CHECK(agora_topology_nonzeros(t) == 24, "ring on 8 agents stores 24 entries, got %lld", (long long)agora_topology_nonzeros(t));

    double gap = 0; int32_t method = -1;
    CHECK(agora_topology_spectral_gap(t, &gap, &method, msg, sizeof msg) == AGORA_OK, "gap: %s", msg);
    /* Ring, Metropolis weights 1/3: lambda_2 = 1/3 + 2/3 cos(2 pi / 8). */
    CHECK(fabs(gap - (1 - (1.0 / 3 + 2.0 / 3 * cos(2 * M_PI / 8)))) < 1e-12 && method == 0, "gap %.17g method %d", gap, method);

    float x[8 * 3], y[8 * 3], m[8 * 3], lr[8];
    for (int i = 0; i < 24; i++) { x[i] = (float)(i / 3); m[i] = 1; }
    for (int i = 0; i < 8; i++) lr[i] = 0.5f;
    CHECK(agora_mix_f32(t, x, 8, 3, y, msg, sizeof msg) == AGORA_OK, "mix: %s", msg);
    /* Agent 0 averages agents 7, 0, 1 (values 7, 0, 1). */
    CHECK(fabsf(y[0] - 8.0f / 3) < 1e-6f, "y[0] = %g", y[0]);
    CHECK(agora_mix_step_f32(t, x, 8, 3, lr, m, y, msg, sizeof msg) == AGORA_OK, "mix_step: %s", msg);
    CHECK(fabsf(y[3] - (1.0f - 0.5f)) < 1e-6f, "y[3] = %g", y[3]);

    /* Errors are statuses with messages, never traps. */
    CHECK(agora_mix_f32(t, x, 7, 3, y, msg, sizeof msg) == AGORA_ERROR_ARGUMENT && strstr(msg, "8 agents"), "rows: %s", msg);
    CHECK(agora_mix_f32(t, x, 8, 3, (float *)x, msg, sizeof msg) == AGORA_ERROR_ARGUMENT && strstr(msg, "overlaps"), "overlap: %s", msg);
    CHECK(agora_mix_f32(NULL, x, 8, 3, y, msg, sizeof msg) == AGORA_ERROR_ARGUMENT, "NULL topology: %s", msg);
    CHECK(agora_mix_f32(t, NULL, 8, 3, y, msg, sizeof msg) == AGORA_ERROR_ARGUMENT, "NULL x: %s", msg);
    CHECK(agora_mix_f32(t, x, 8, -3, y, msg, sizeof msg) == AGORA_ERROR_ARGUMENT, "negative dim: %s", msg);
    /* Sizes past the address space are refused before any size or overlap arithmetic can overflow. */
    CHECK(agora_mix_f32(t, x, 8, (int64_t)1 << 59, y, msg, sizeof msg) == AGORA_ERROR_ARGUMENT && strstr(msg, "address space"),
          "dim 2^59: %s", msg);
    {
        int64_t starts[2] = {0, 0};
        int32_t cols[1] = {0};
        float vals[1] = {0}, targets[1] = {0};
        agora_features *f = NULL;
        CHECK(agora_features_create_csr_f32(INT64_MAX, 3, starts, cols, vals, targets, &f, msg, sizeof msg) == AGORA_ERROR_ARGUMENT
                  && f == NULL && strstr(msg, "address space"), "csr rows INT64_MAX: %s", msg);
        float dense[6] = {1, 2, 3, 4, 5, 6}, y2[2] = {0, 1};
        CHECK(agora_features_create_dense_f32(dense, 2, 3, y2, &f, msg, sizeof msg) == AGORA_OK, "dense: %s", msg);
        float theta[3] = {0}, grads[3], losses[1];
        int64_t bstart[2] = {0, 1}, brows[1] = {0};
        CHECK(agora_glm_gradients_f32(f, 0, 0.0f, theta, INT64_MAX, 3, bstart, brows, grads, losses, msg, sizeof msg)
                  == AGORA_ERROR_ARGUMENT, "gradients agents INT64_MAX: %s", msg);
        agora_features_free(f);
    }
    agora_topology *bad = NULL;
    CHECK(agora_topology_create("ring:5", 8, NULL, 0, 0, &bad, msg, sizeof msg) == AGORA_ERROR_CONFIGURATION && bad == NULL, "ring:5: %s", msg);
    CHECK(agora_topology_create("complete", 1000000, NULL, 0, 0, &bad, msg, sizeof msg) == AGORA_ERROR_RESOURCES, "complete 1e6: %s", msg);
    CHECK(agora_topology_create("ring", 8, "nope", 0, 0, &bad, msg, sizeof msg) == AGORA_ERROR_ARGUMENT, "weights: %s", msg);
    CHECK(agora_topology_create(NULL, 8, NULL, 0, 0, &bad, msg, sizeof msg) == AGORA_ERROR_ARGUMENT, "NULL name: %s", msg);
    /* A small buffer gets a truncated, terminated message. */
    char tiny[8];
    agora_mix_f32(t, x, 7, 3, y, tiny, sizeof tiny);
    CHECK(strlen(tiny) == 7, "truncated message '%s'", tiny);

    agora_topology_free(t);
    agora_topology_free(NULL);
    if (failures == 0) printf("C ABI smoke test: 1 passed, 0 failed\n");
    return failures == 0 ? 0 : 1;
}
