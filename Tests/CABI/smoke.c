/* The C ABI from C: the header compiles, the library links, and the kernels and every error path
 * behave as agora.h says. Prints one line per case ("ok    cabi: NAME" or "FAIL  cabi: NAME", the
 * format CI's per-test summary reads) and "C ABI smoke test: P passed, F failed"; exit status 0 when
 * every case passed. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include "agora.h"

static int failures = 0, case_failures = 0, passed = 0, failed = 0;
static const char *current = NULL;
static int last_status = 0;
#define ST(call) (last_status = (call))
#define CHECK(cond, ...) do { if (!(cond)) { fprintf(stderr, "FAILED %s:%d: ", __FILE__, __LINE__); fprintf(stderr, "[status %d] ", last_status); fprintf(stderr, __VA_ARGS__); fputc('\n', stderr); failures++; case_failures++; } } while (0)
static void end_case(void) {
    if (current == NULL) return;
    if (case_failures == 0) { printf("ok    cabi: %s\n", current); passed++; }
    else { printf("FAIL  cabi: %s\n", current); failed++; }
    current = NULL;
    case_failures = 0;
}
static void begin_case(const char *name) { end_case(); current = name; }

/* The error paths the Python package pre-empts, reached from C directly. */
static void extra_cases(agora_topology *t) {
    char msg[256];
    /* A 4 x 3 dense data set, logistic targets. */
    float dense[12] = {1, 0, 2, 0, 1, 1, 3, 1, 0, 1, 1, 1}, targets[4] = {1, -1, 1, -1};
    agora_features *f = NULL;
    begin_case("gradients: a logistic step against a hand computation");
    CHECK(ST(agora_features_create_dense_f32(dense, 4, 3, targets, &f, msg, sizeof msg)) == AGORA_OK, "dense: %s", msg);
    {
        /* Agent 0 uses rows {0, 1} at theta = 0: l'(0, y) = -y / 2, so g = (x_1 - x_0) / 4 = (-1, 1, -1) / 4. */
        float theta[3] = {0, 0, 0}, g[3], loss[1];
        int64_t bs[2] = {0, 2}, br[2] = {0, 1};
        CHECK(ST(agora_glm_gradients_f32(f, 0, 0.0f, theta, 1, 3, bs, br, g, loss, msg, sizeof msg)) == AGORA_OK, "grad: %s", msg);
        CHECK(fabsf(g[0] + 0.25f) < 1e-6f && fabsf(g[1] - 0.25f) < 1e-6f && fabsf(g[2] + 0.25f) < 1e-6f, "g = %g %g %g", g[0], g[1], g[2]);
        CHECK(fabsf(loss[0] - (float)log(2.0)) < 1e-6f, "loss %g", loss[0]);
    }
    begin_case("gradients errors: loss code, NULLs, batch rows, aliasing");
    {
        float theta[3] = {0, 0, 0}, g[3], loss[1];
        int64_t bs[2] = {0, 2}, br[2] = {0, 1};
        CHECK(ST(agora_glm_gradients_f32(f, 7, 0.0f, theta, 1, 3, bs, br, g, loss, msg, sizeof msg)) == AGORA_ERROR_ARGUMENT
                  && strstr(msg, "loss"), "loss 7: %s", msg);
        CHECK(ST(agora_glm_gradients_f32(NULL, 0, 0.0f, theta, 1, 3, bs, br, g, loss, msg, sizeof msg)) == AGORA_ERROR_ARGUMENT,
              "NULL features: %s", msg);
        CHECK(ST(agora_glm_gradients_f32(f, 0, 0.0f, theta, 1, 3, bs, NULL, g, loss, msg, sizeof msg)) == AGORA_ERROR_ARGUMENT,
              "NULL batch rows: %s", msg);
        CHECK(ST(agora_glm_gradients_f32(f, 0, 0.0f, theta, 1, 4, bs, br, g, loss, msg, sizeof msg)) == AGORA_ERROR_ARGUMENT,
              "dim 4 for 3 features: %s", msg);
        int64_t bad_rows[2] = {0, 4};
        CHECK(ST(agora_glm_gradients_f32(f, 0, 0.0f, theta, 1, 3, bs, bad_rows, g, loss, msg, sizeof msg)) == AGORA_ERROR_SHAPE
                  && strstr(msg, "4"), "row 4 of 4: %s", msg);
        int64_t bad_start[2] = {1, 0};
        CHECK(ST(agora_glm_gradients_f32(f, 0, 0.0f, theta, 1, 3, bad_start, br, g, loss, msg, sizeof msg)) == AGORA_ERROR_ARGUMENT,
              "decreasing batch_start: %s", msg);
        CHECK(ST(agora_glm_gradients_f32(f, 0, 0.0f, theta, 1, 3, bs, br, theta, loss, msg, sizeof msg)) == AGORA_ERROR_ARGUMENT
                  && strstr(msg, "overlap"), "gradients over parameters: %s", msg);
        CHECK(ST(agora_glm_gradients_f32(f, 0, 0.0f, theta, 1, 3, bs, br, g, theta, msg, sizeof msg)) == AGORA_ERROR_ARGUMENT
                  && strstr(msg, "overlap"), "losses over parameters: %s", msg);
        CHECK(ST(agora_glm_gradients_f32(f, 0, 0.0f, theta, 1, 3, bs, br, g, g, msg, sizeof msg)) == AGORA_ERROR_ARGUMENT
                  && strstr(msg, "overlap"), "losses over gradients: %s", msg);
    }
    agora_features_free(f);
    agora_features_free(NULL);
    begin_case("CSR features errors: starts, columns, NULLs");
    {
        float vals[3] = {1, 2, 3}, tg[2] = {1, -1};
        int32_t cols[3] = {0, 2, 1};
        agora_features *g = NULL;
        int64_t ok_starts[3] = {0, 2, 3};
        CHECK(ST(agora_features_create_csr_f32(2, 3, ok_starts, cols, vals, tg, &g, msg, sizeof msg)) == AGORA_OK && g != NULL, "csr: %s", msg);
        agora_features_free(g);
        g = NULL;
        int64_t not_zero[3] = {1, 2, 3};
        CHECK(ST(agora_features_create_csr_f32(2, 3, not_zero, cols, vals, tg, &g, msg, sizeof msg)) == AGORA_ERROR_ARGUMENT && g == NULL,
              "row_start[0] = 1: %s", msg);
        int64_t decreasing[3] = {0, 3, 2};
        CHECK(ST(agora_features_create_csr_f32(2, 3, decreasing, cols, vals, tg, &g, msg, sizeof msg)) == AGORA_ERROR_SHAPE && g == NULL,
              "decreasing row_start: %s", msg);
        int32_t bad_cols[3] = {0, 3, 1};
        CHECK(ST(agora_features_create_csr_f32(2, 3, ok_starts, bad_cols, vals, tg, &g, msg, sizeof msg)) == AGORA_ERROR_SHAPE && g == NULL,
              "column 3 of 3: %s", msg);
        int32_t neg_cols[3] = {0, -1, 1};
        CHECK(ST(agora_features_create_csr_f32(2, 3, ok_starts, neg_cols, vals, tg, &g, msg, sizeof msg)) == AGORA_ERROR_SHAPE && g == NULL,
              "column -1: %s", msg);
        CHECK(ST(agora_features_create_csr_f32(2, 3, ok_starts, cols, NULL, tg, &g, msg, sizeof msg)) == AGORA_ERROR_ARGUMENT && g == NULL,
              "NULL values: %s", msg);
        CHECK(ST(agora_features_create_csr_f32(2, 3, ok_starts, cols, vals, tg, NULL, msg, sizeof msg)) == AGORA_ERROR_ARGUMENT,
              "NULL out: %s", msg);
        CHECK(ST(agora_features_create_csr_f32(-1, 3, ok_starts, cols, vals, tg, &g, msg, sizeof msg)) == AGORA_ERROR_ARGUMENT && g == NULL,
              "rows -1: %s", msg);
    }
    begin_case("payments: budget balance, and errors");
    {
        double reports[8] = {1, 2, 3, 4, 5, 6, 7, 8}, pay[8];
        CHECK(ST(agora_dsgd_payments(t, 0, reports, 8, 1.0, 0.5, 0, pay, msg, sizeof msg)) == AGORA_OK, "payments: %s", msg);
        double sum = 0;
        for (int i = 0; i < 8; i++) sum += pay[i];
        /* Ring, omega = 1, C_0 = 1: agent 1 has neighbours 0 and 2: (2 - 1) + (2 - 3) = 0; agent 0: (1 - 8) + (1 - 2) = -8. */
        CHECK(fabs(sum) < 1e-12 && fabs(pay[1]) < 1e-12 && fabs(pay[0] + 8) < 1e-12, "sum %g, P_0 %g, P_1 %g", sum, pay[0], pay[1]);
        CHECK(ST(agora_dsgd_payments(t, 0, reports, 8, 1.0, 0.5, 5, pay, msg, sizeof msg)) == AGORA_ERROR_ARGUMENT, "weighting 5: %s", msg);
        CHECK(ST(agora_dsgd_payments(t, -1, reports, 8, 1.0, 0.5, 0, pay, msg, sizeof msg)) == AGORA_ERROR_ARGUMENT, "iteration -1: %s", msg);
        CHECK(ST(agora_dsgd_payments(t, 0, NULL, 8, 1.0, 0.5, 0, pay, msg, sizeof msg)) == AGORA_ERROR_ARGUMENT, "NULL reports: %s", msg);
        CHECK(ST(agora_dsgd_payments(t, 0, reports, 7, 1.0, 0.5, 0, pay, msg, sizeof msg)) == AGORA_ERROR_ARGUMENT, "7 agents: %s", msg);
        CHECK(ST(agora_dsgd_payments(t, 0, reports, 8, NAN, 0.5, 0, pay, msg, sizeof msg)) == AGORA_ERROR_ARGUMENT, "c0 NaN: %s", msg);
        CHECK(ST(agora_dsgd_payments(t, 0, reports, 8, 1.0, 0.5, 0, reports, msg, sizeof msg)) == AGORA_ERROR_ARGUMENT
                  && strstr(msg, "overlap"), "payments over reports: %s", msg);
    }
    begin_case("geometry and market step errors");
    {
        float models[6] = {1, 0, 0, 1, 1, 1}, origin[2] = {0, 0}, norms[3], cosines[9];
        CHECK(ST(agora_update_geometry_f32(3, 2, models, origin, norms, cosines, msg, sizeof msg)) == AGORA_OK, "geometry: %s", msg);
        CHECK(fabsf(norms[2] - sqrtf(2.0f)) < 1e-6f && fabsf(cosines[1]) < 1e-6f && fabsf(cosines[2] - sqrtf(0.5f)) < 1e-6f,
              "norm %g cos01 %g cos02 %g", norms[2], cosines[1], cosines[2]);
        CHECK(ST(agora_update_geometry_f32(0, 2, models, origin, norms, cosines, msg, sizeof msg)) == AGORA_ERROR_ARGUMENT, "0 clients: %s", msg);
        CHECK(ST(agora_update_geometry_f32(3, 2, models, NULL, norms, cosines, msg, sizeof msg)) == AGORA_ERROR_ARGUMENT, "NULL origin: %s", msg);
        CHECK(ST(agora_update_geometry_f32(3, 2, models, origin, norms, (float *)models, msg, sizeof msg)) == AGORA_ERROR_ARGUMENT
                  && strstr(msg, "overlap"), "cosines over models: %s", msg);
        double sizes[3] = {100, 100, 100}, costs[3] = {1, 1, 1}, eager[3] = {5e5, 5e5, 5e5}, pay[9], net[3], util[3];
        int32_t imports[9];
        CHECK(ST(agora_market_step_f32(3, 2, models, origin, sizes, costs, eager, NULL, NULL, NULL, NULL, NULL, 1.0, 1.0, 7, 0, 0, 1, imports, pay,
                                    net, util, NULL, NULL, msg, sizeof msg)) == AGORA_ERROR_ARGUMENT, "distance 7: %s", msg);
        CHECK(ST(agora_market_step_f32(3, 2, models, origin, sizes, costs, eager, NULL, NULL, NULL, NULL, NULL, -1.0, 1.0, 0, 0, 0, 1, imports,
                                    pay, net, util, NULL, NULL, msg, sizeof msg)) == AGORA_ERROR_CONFIGURATION, "lambda -1: %s", msg);
        CHECK(ST(agora_market_step_f32(3, 2, models, origin, NULL, costs, eager, NULL, NULL, NULL, NULL, NULL, 1.0, 1.0, 0, 0, 0, 1, imports, pay,
                                    net, util, NULL, NULL, msg, sizeof msg)) == AGORA_ERROR_ARGUMENT, "NULL sizes: %s", msg);
        double neg_sizes[3] = {100, -1, 100};
        CHECK(ST(agora_market_step_f32(3, 2, models, origin, neg_sizes, costs, eager, NULL, NULL, NULL, NULL, NULL, 1.0, 1.0, 0, 0, 0, 1, imports,
                                    pay, net, util, NULL, NULL, msg, sizeof msg)) == AGORA_ERROR_CONFIGURATION, "size -1: %s", msg);
    }
    begin_case("contract: one type and errors");
    {
        double p[2] = {0.5, 0.5}, c[2] = {1, 2}, per[14], sc[9];
        int32_t pool[2];
        char finish[64];
        double p1[1] = {1}, c1[1] = {1}, per1[7];
        int32_t pool1[1];
        /* One type, the paper's a and v (k = 1, v(r) = 100 r): the type's IR binds (no rival type to pay a rent to). */
        CHECK(ST(agora_contract_solve(10, 1, p1, c1, NULL, 1, 100, 0, 0, 1, per1, sc, pool1, finish, sizeof finish, msg, sizeof msg)) == AGORA_OK,
              "one type: %s", msg);
        CHECK(pool1[0] == 0 && per1[0] > 0 && fabs(per1[2] - per1[3]) < 1e-6 && fabs(per1[5]) < 1e-6 && sc[4] < 1e-8,
              "one type: contribution %g, utility %g, reservation %g, rent %g, KKT %g", per1[0], per1[2], per1[3], per1[5], sc[4]);
        CHECK(ST(agora_contract_solve(1, 2, p, c, NULL, 1, 100, 0, 0, 1, per, sc, pool, finish, sizeof finish, msg, sizeof msg))
                  == AGORA_ERROR_CONFIGURATION && strstr(msg, "N = 1"), "N = 1: %s", msg);
        double bad_p[2] = {0.5, 0.6};
        CHECK(agora_contract_solve(10, 2, bad_p, c, NULL, 1, 1, 0, 0, 1, per, sc, pool, finish, sizeof finish, msg, sizeof msg)
                  == AGORA_ERROR_CONFIGURATION, "p sums to 1.1: %s", msg);
        CHECK(agora_contract_solve(10, 21, p, c, NULL, 1, 1, 0, 0, 1, per, sc, pool, finish, sizeof finish, msg, sizeof msg)
                  == AGORA_ERROR_ARGUMENT, "21 types: %s", msg);
        CHECK(agora_contract_solve(10, 0, p, c, NULL, 1, 1, 0, 0, 1, per, sc, pool, finish, sizeof finish, msg, sizeof msg)
                  == AGORA_ERROR_ARGUMENT, "0 types: %s", msg);
        double neg_c[2] = {1, -2};
        CHECK(agora_contract_solve(10, 2, p, neg_c, NULL, 1, 1, 0, 0, 1, per, sc, pool, finish, sizeof finish, msg, sizeof msg)
                  == AGORA_ERROR_CONFIGURATION, "cost -2: %s", msg);
        CHECK(agora_contract_solve(0, 2, p, c, NULL, 1, 1, 0, 0, 1, per, sc, pool, finish, sizeof finish, msg, sizeof msg)
                  == AGORA_ERROR_ARGUMENT, "0 participants: %s", msg);
        CHECK(agora_contract_solve(10, 2, p, c, NULL, 1, 1, 0, 0, 1, NULL, sc, pool, finish, sizeof finish, msg, sizeof msg)
                  == AGORA_ERROR_ARGUMENT, "NULL per_type: %s", msg);
    }
    begin_case("NULL message buffer");
    CHECK(ST(agora_mix_f32(t, NULL, 8, 3, NULL, NULL, 0)) == AGORA_ERROR_ARGUMENT, "NULL message");
}

int main(void) {
    char msg[256];
    begin_case("version and ring topology");
    CHECK(ST(agora_abi_version()) == AGORA_ABI_VERSION, "ABI version %d, header %d", agora_abi_version(), AGORA_ABI_VERSION);

    agora_topology *t = NULL;
    CHECK(ST(agora_topology_create("ring", 8, "metropolis", 0, 0, &t, msg, sizeof msg)) == AGORA_OK, "create: %s", msg);
    CHECK(agora_topology_agents(t) == 8, "agents");
    CHECK(agora_topology_nonzeros(t) == 24, "ring on 8 agents stores 24 entries, got %lld", (long long)agora_topology_nonzeros(t));

    double gap = 0; int32_t method = -1;
    CHECK(ST(agora_topology_spectral_gap(t, &gap, &method, msg, sizeof msg)) == AGORA_OK, "gap: %s", msg);
    /* Ring, Metropolis weights 1/3: lambda_2 = 1/3 + 2/3 cos(2 pi / 8). */
    CHECK(fabs(gap - (1 - (1.0 / 3 + 2.0 / 3 * cos(2 * M_PI / 8)))) < 1e-12 && method == 0, "gap %.17g method %d", gap, method);

    begin_case("mix and fused mix step");
    float x[8 * 3], y[8 * 3], m[8 * 3], lr[8];
    for (int i = 0; i < 24; i++) { x[i] = (float)(i / 3); m[i] = 1; }
    for (int i = 0; i < 8; i++) lr[i] = 0.5f;
    CHECK(ST(agora_mix_f32(t, x, 8, 3, y, msg, sizeof msg)) == AGORA_OK, "mix: %s", msg);
    /* Agent 0 averages agents 7, 0, 1 (values 7, 0, 1). */
    CHECK(fabsf(y[0] - 8.0f / 3) < 1e-6f, "y[0] = %g", y[0]);
    CHECK(ST(agora_mix_step_f32(t, x, 8, 3, lr, m, y, msg, sizeof msg)) == AGORA_OK, "mix_step: %s", msg);
    CHECK(fabsf(y[3] - (1.0f - 0.5f)) < 1e-6f, "y[3] = %g", y[3]);

    /* Errors are statuses with messages, never traps. */
    begin_case("mix errors: shapes, NULLs, overlap, sizes past the address space");
    CHECK(ST(agora_mix_f32(t, x, 7, 3, y, msg, sizeof msg)) == AGORA_ERROR_ARGUMENT && strstr(msg, "8 agents"), "rows: %s", msg);
    CHECK(ST(agora_mix_f32(t, x, 8, 3, (float *)x, msg, sizeof msg)) == AGORA_ERROR_ARGUMENT && strstr(msg, "overlaps"), "overlap: %s", msg);
    CHECK(ST(agora_mix_f32(NULL, x, 8, 3, y, msg, sizeof msg)) == AGORA_ERROR_ARGUMENT, "NULL topology: %s", msg);
    /* The fused step's output may not cover its inputs (refused before anything is written). */
    CHECK(ST(agora_mix_step_f32(t, x, 8, 3, lr, m, (float *)lr, msg, sizeof msg)) == AGORA_ERROR_ARGUMENT && strstr(msg, "y overlaps"),
          "y over step sizes: %s", msg);
    CHECK(ST(agora_mix_f32(t, NULL, 8, 3, y, msg, sizeof msg)) == AGORA_ERROR_ARGUMENT, "NULL x: %s", msg);
    CHECK(ST(agora_mix_f32(t, x, 8, -3, y, msg, sizeof msg)) == AGORA_ERROR_ARGUMENT, "negative dim: %s", msg);
    /* Sizes past the address space are refused before any size or overlap arithmetic can overflow. */
    CHECK(ST(agora_mix_f32(t, x, 8, (int64_t)1 << 59, y, msg, sizeof msg)) == AGORA_ERROR_ARGUMENT && strstr(msg, "address space"),
          "dim 2^59: %s", msg);
    begin_case("features and gradients: sizes past the address space");
    {
        int64_t starts[2] = {0, 0};
        int32_t cols[1] = {0};
        float vals[1] = {0}, targets[1] = {0};
        agora_features *f = NULL;
        CHECK(ST(agora_features_create_csr_f32(INT64_MAX, 3, starts, cols, vals, targets, &f, msg, sizeof msg)) == AGORA_ERROR_ARGUMENT
                  && f == NULL && strstr(msg, "address space"), "csr rows INT64_MAX: %s", msg);
        float dense[6] = {1, 2, 3, 4, 5, 6}, y2[2] = {0, 1};
        CHECK(ST(agora_features_create_dense_f32(dense, 2, 3, y2, &f, msg, sizeof msg)) == AGORA_OK, "dense: %s", msg);
        float theta[3] = {0}, grads[3], losses[1];
        int64_t bstart[2] = {0, 1}, brows[1] = {0};
        CHECK(agora_glm_gradients_f32(f, 0, 0.0f, theta, INT64_MAX, 3, bstart, brows, grads, losses, msg, sizeof msg)
                  == AGORA_ERROR_ARGUMENT, "gradients agents INT64_MAX: %s", msg);
        agora_features_free(f);
    }
    begin_case("topology errors: bad names, weights, sizes");
    agora_topology *bad = NULL;
    CHECK(ST(agora_topology_create("ring:5", 8, NULL, 0, 0, &bad, msg, sizeof msg)) == AGORA_ERROR_CONFIGURATION && bad == NULL, "ring:5: %s", msg);
    CHECK(ST(agora_topology_create("complete", 1000000, NULL, 0, 0, &bad, msg, sizeof msg)) == AGORA_ERROR_RESOURCES, "complete 1e6: %s", msg);
    CHECK(ST(agora_topology_create("ring", 8, "nope", 0, 0, &bad, msg, sizeof msg)) == AGORA_ERROR_ARGUMENT, "weights: %s", msg);
    CHECK(ST(agora_topology_create(NULL, 8, NULL, 0, 0, &bad, msg, sizeof msg)) == AGORA_ERROR_ARGUMENT, "NULL name: %s", msg);
    begin_case("truncated error message");
    /* A small buffer gets a truncated, terminated message. */
    char tiny[8];
    agora_mix_f32(t, x, 7, 3, y, tiny, sizeof tiny);
    CHECK(strlen(tiny) == 7, "truncated message '%s'", tiny);

    extra_cases(t);
    agora_topology_free(t);
    agora_topology_free(NULL);
    end_case();
    printf("C ABI smoke test: %d passed, %d failed\n", passed, failed);
    return failures == 0 ? 0 : 1;
}
