// MPI for Swift: the handles are macros (and, in Open MPI, addresses of incomplete globals), which
// Swift cannot import; these accessors return them. The same file builds against Open MPI and
// MPICH (pkg-config ompi-c or mpich). Used only by AgoraDistributed, behind the MPI trait.
#ifndef AGORA_CMPI_SHIM_H
#define AGORA_CMPI_SHIM_H
#include <mpi.h>

static inline MPI_Comm agora_mpi_comm_world(void) { return MPI_COMM_WORLD; }
static inline MPI_Comm agora_mpi_comm_null(void) { return MPI_COMM_NULL; }
static inline MPI_Datatype agora_mpi_float(void) { return MPI_FLOAT; }
static inline MPI_Datatype agora_mpi_double(void) { return MPI_DOUBLE; }
static inline MPI_Datatype agora_mpi_int(void) { return MPI_INT; }
static inline MPI_Datatype agora_mpi_uint64(void) { return MPI_UINT64_T; }
static inline MPI_Datatype agora_mpi_int64(void) { return MPI_INT64_T; }
static inline int agora_mpi_any_source(void) { return MPI_ANY_SOURCE; }
static inline MPI_Datatype agora_mpi_datatype_null(void) { return MPI_DATATYPE_NULL; }
static inline MPI_Info agora_mpi_info_null(void) { return MPI_INFO_NULL; }
static inline MPI_Errhandler agora_mpi_errors_return(void) { return MPI_ERRORS_RETURN; }
static inline MPI_Op agora_mpi_sum(void) { return MPI_SUM; }
static inline MPI_Op agora_mpi_max(void) { return MPI_MAX; }
static inline int *agora_mpi_unweighted(void) { return MPI_UNWEIGHTED; }
static inline void *agora_mpi_in_place(void) { return MPI_IN_PLACE; }
static inline MPI_Status *agora_mpi_status_ignore(void) { return MPI_STATUS_IGNORE; }
static inline MPI_Datatype agora_mpi_byte(void) { return MPI_BYTE; }
static inline int agora_mpi_thread_funneled(void) { return MPI_THREAD_FUNNELED; }
static inline int agora_mpi_success(void) { return MPI_SUCCESS; }
static inline int agora_mpi_max_error_string(void) { return MPI_MAX_ERROR_STRING; }
#endif
