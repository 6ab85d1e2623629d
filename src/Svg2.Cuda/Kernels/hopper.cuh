// Hopper (sm_90a) warpgroup matrix multiply: wgmma.mma_async on shared-memory tiles described by
// matrix descriptors, fp32 accumulators in registers.
//
// Tile layout: a [rows x kHeadDim] tile of 16-bit elements is kept as kHeadDim / 64 panels of
// [rows x 64 elements]; each panel row is 128 bytes and 16-byte chunk c of row r sits at chunk
// c ^ (r % 8) (the 128-byte swizzle the hardware undoes from address bits 4-6 and 7-9, so a
// panel must start on a 1024-byte boundary). The same layout serves as a K-major operand (Q and K
// of S = Q K^T: rows are M or N, the head dimension is the reduction) and as the MN-major B
// operand of P V (rows are the reduction, the head dimension is N).
//
// Accumulator layout of m64nN (per warp w of the warpgroup, lane = 4 g + t): register 4 j + e
// holds row 16 w + g (e = 0, 1) or 16 w + g + 8 (e = 2, 3), column 8 j + 2 t + (e & 1); the
// register A operand of a k16 step uses the same pattern, so an S accumulator packs straight into P.
#pragma once
#include "common.cuh"

#ifndef SVG2_WARPGROUP_THREADS
#error "SVG2_WARPGROUP_THREADS must be defined (HopperTraits)"
#endif
#ifndef SVG2_WARPGROUP_ROWS
#error "SVG2_WARPGROUP_ROWS must be defined (HopperTraits)"
#endif
#ifndef SVG2_SHARED_ALIGNMENT
#error "SVG2_SHARED_ALIGNMENT must be defined (HopperTraits)"
#endif
#ifndef SVG2_BARRIER_BYTES
#error "SVG2_BARRIER_BYTES must be defined (HopperTraits)"
#endif

constexpr int kWarpgroupThreads = SVG2_WARPGROUP_THREADS;
constexpr int kWarpgroupRows = SVG2_WARPGROUP_ROWS;        // M of every wgmma
constexpr int kPanelElements = 64;                         // elements of one 128-byte panel row
constexpr int kPanelRowBytes = kPanelElements * 2;
constexpr int kPanelChunks = kPanelRowBytes / 16;
constexpr int kSwizzleAtomBytes = kSwizzleRows * kPanelRowBytes;   // 8 rows x 128 B
constexpr int kWgmmaK = 16;                                 // reduction depth of one wgmma
constexpr int kStepsPerPanel = kPanelElements / kWgmmaK;
constexpr int kWgmmaKSteps = kHeadDim / kWgmmaK;
constexpr int kSharedAlignment = SVG2_SHARED_ALIGNMENT;     // the swizzle pattern repeats every 1024 bytes
constexpr int kBarrierBytes = SVG2_BARRIER_BYTES;           // one mbarrier
constexpr int kRegisterFile = 65536;                        // 32-bit registers of one multiprocessor

// Registers per thread a block of 'Threads' threads starts with when it owns the whole register
// file (allocation is in units of 8); setmaxnreg can only redistribute these.
template <int Threads>
constexpr int kStartRegistersFor = kRegisterFile / Threads / 8 * 8;
static_assert(kHeadDim % kPanelElements == 0, "whole panels");
static_assert(kWarpgroupThreads == 4 * kWarpSize, "a warpgroup is four consecutive warps");
static_assert(kWarpgroupRows == 64, "M of wgmma.mma_async is 64 rows");
static_assert(kSharedAlignment % kSwizzleAtomBytes == 0, "panels start where the 128-byte swizzle pattern restarts");
static_assert(kBarrierBytes == sizeof(unsigned long long), "an mbarrier is one 64-bit word");

// Four 8 x 8 b16 matrices to shared memory (sm_90): lane l addresses row l % 8 of matrix l / 8; register i of
// lane 4 r + c is matrix i's row r, elements 2c and 2c + 1.
__device__ __forceinline__ void store_matrix_x4(unsigned address, const unsigned (&r)[4])
{
    asm volatile("stmatrix.sync.aligned.m8n8.x4.shared.b16 [%0], {%1,%2,%3,%4};"
                 :: "r"(address), "r"(r[0]), "r"(r[1]), "r"(r[2]), "r"(r[3]) : "memory");
}

// The first kSharedAlignment-aligned shared address at or after 'pointer' (callers reserve the slack).
__device__ __forceinline__ unsigned aligned_shared_base(const void* pointer)
{
    return (shared_address(pointer) + kSharedAlignment - 1) & ~(unsigned)(kSharedAlignment - 1);
}

// Byte offset of 16-byte chunk 'chunk' (0 .. kRowChunks) of row 'row' in a panelled tile of 'rows' rows.
__device__ __forceinline__ unsigned panel_offset(int row, int chunk, int rows)
{
    return (unsigned)((chunk / kPanelChunks) * rows * kPanelRowBytes + row * kPanelRowBytes
                      + ((chunk % kPanelChunks) ^ (row % kSwizzleRows)) * 16);
}

// Row gathers into panelled tiles of 'Rows' rows by a group of 'Threads' consecutive threads (a
// warpgroup, say; t = threadIdx.x % Threads): thread t copies
// 16-byte chunk t % kRowChunks of rows t / kRowChunks + i x kRowsPerPass. With 8 | kRowsPerPass the
// swizzle term is the same in every pass, so a thread's tile offset is computed once and each pass
// adds a constant; a source address is one wide multiply-add of the token onto a chunk base.
template <int Rows, int Threads>
struct RowGather
{
    static constexpr int kRowsPerPass = Threads / kRowChunks;
    static constexpr int kPasses = Rows / kRowsPerPass;
    static_assert(Threads % kRowChunks == 0 && Rows % kRowsPerPass == 0 && kRowsPerPass % kSwizzleRows == 0,
                  "whole rows per pass, one swizzle term per thread");

    int first_row;
    unsigned tile_offset;   // bytes from a tile's start to this thread's chunk of its first row
    unsigned chunk_bytes;   // bytes from a source row's start to this thread's chunk

    __device__ __forceinline__ RowGather()
        : first_row(threadIdx.x % Threads / kRowChunks),
          tile_offset(panel_offset(threadIdx.x % Threads / kRowChunks, threadIdx.x % kRowChunks, Rows)),
          chunk_bytes((threadIdx.x % kRowChunks) * 16) {}

    // This thread's chunk of row 0 of a [tokens x kHeadDim] source: the base its copies add the token to.
    __device__ __forceinline__ const char* chunk_base(const element_t* source) const { return (const char*)source + chunk_bytes; }

    // Row r of every tile comes from row token_of(r) of its source (zero-filled when the token is
    // negative). All tokens are read before any copy is issued: each copy is a memory barrier to the
    // compiler, so a token read between two copies would wait for the previous one.
    template <int Sources, class TokenOf>
    __device__ __forceinline__ void operator()(const unsigned (&tiles)[Sources], const char* const (&chunk_bases)[Sources], TokenOf token_of) const
    {
        int tokens[kPasses];
#pragma unroll
        for (int i = 0; i < kPasses; ++i) tokens[i] = token_of(first_row + i * kRowsPerPass);
#pragma unroll
        for (int i = 0; i < kPasses; ++i)
        {
            const bool valid = tokens[i] >= 0;
            const unsigned long long source_offset = (unsigned long long)(unsigned)max(tokens[i], 0) * kRowBytes;
#pragma unroll
            for (int s = 0; s < Sources; ++s)
                copy_async_16(tiles[s] + tile_offset + i * kRowsPerPass * kPanelRowBytes, chunk_bases[s] + source_offset, valid);
        }
    }
};

// Shared-memory barriers (mbarrier) for producer/consumer stages.
__device__ __forceinline__ void barrier_init(unsigned barrier, unsigned arrivals)
{
    asm volatile("mbarrier.init.shared::cta.b64 [%0], %1;" :: "r"(barrier), "r"(arrivals) : "memory");
}

// A row of 'count' barriers (one per pipeline stage), kBarrierBytes apart from 'first', each of 'arrivals'.
__device__ __forceinline__ void barrier_init_row(unsigned first, int count, unsigned arrivals)
{
    for (int i = 0; i < count; ++i) barrier_init(first + i * kBarrierBytes, arrivals);
}

// Makes initialised barriers visible to the other threads and proxies; then a block barrier.
__device__ __forceinline__ void barrier_init_fence() { asm volatile("fence.mbarrier_init.release.cluster;" ::: "memory"); }

__device__ __forceinline__ void barrier_arrive(unsigned barrier)
{
    asm volatile("mbarrier.arrive.shared::cta.b64 _, [%0];" :: "r"(barrier) : "memory");
}

// Arrives on 'barrier' once every cp.async this thread issued so far has landed (the arrival is
// counted in the barrier's initial count).
__device__ __forceinline__ void barrier_arrive_after_copies(unsigned barrier)
{
    asm volatile("cp.async.mbarrier.arrive.noinc.shared::cta.b64 [%0];" :: "r"(barrier) : "memory");
}

// Arrives on 'barrier' and adds 'bytes' to the transaction count its phase waits for (bulk copies
// complete it as their bytes land).
__device__ __forceinline__ void barrier_arrive_expect_bytes(unsigned barrier, unsigned bytes)
{
    asm volatile("mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;" :: "r"(barrier), "r"(bytes) : "memory");
}

// Copies 'bytes' (a multiple of 16, both addresses 16-byte aligned) from global to shared memory
// with the bulk copy engine; the bytes count towards the transaction count of 'barrier'.
__device__ __forceinline__ void bulk_copy(unsigned destination, const void* source, unsigned bytes, unsigned barrier)
{
    asm volatile("cp.async.bulk.shared::cluster.global.mbarrier::complete_tx::bytes [%0], [%1], %2, [%3];"
                 :: "r"(destination), "l"(source), "r"(bytes), "r"(barrier) : "memory");
}

// Waits until the phase of 'barrier' with this parity has completed.
__device__ __forceinline__ void barrier_wait(unsigned barrier, unsigned parity)
{
    unsigned done;
    do
    {
        asm volatile("{\n.reg .pred p;\nmbarrier.try_wait.parity.shared::cta.b64 p, [%1], %2;\nselp.u32 %0, 1, 0, p;\n}\n"
                     : "=r"(done) : "r"(barrier), "r"(parity) : "memory");
    } while (!done);
}

// Named barrier: 'threads' threads (whole warps) take part.
__device__ __forceinline__ void named_barrier_sync(int id, int threads) { asm volatile("bar.sync %0, %1;" :: "r"(id), "r"(threads) : "memory"); }

// Named barrier 'id' of 'threads' threads that also returns, to each of them, whether 'value' was true in all.
__device__ __forceinline__ bool named_barrier_all(int id, int threads, bool value)
{
    int all;
    asm volatile("{\n\t.reg .pred p, q;\n\tsetp.ne.s32 p, %1, 0;\n\tbar.red.and.pred q, %2, %3, p;\n\tselp.s32 %0, 1, 0, q;\n\t}"
                 : "=r"(all) : "r"((int)value), "r"(id), "r"(threads) : "memory");
    return all != 0;
}

// Moves registers between warpgroups: every thread of the warpgroup executes it with the same count.
template <int Registers>
__device__ __forceinline__ void release_registers() { asm volatile("setmaxnreg.dec.sync.aligned.u32 %0;" :: "n"(Registers)); }
template <int Registers>
__device__ __forceinline__ void claim_registers() { asm volatile("setmaxnreg.inc.sync.aligned.u32 %0;" :: "n"(Registers)); }

// Shared-memory matrix descriptor with the 128-byte swizzle: start address, leading and stride byte
// offsets (all in 16-byte units).
__device__ __forceinline__ unsigned long long matrix_descriptor(unsigned address, unsigned leading_bytes, unsigned stride_bytes)
{
    constexpr unsigned kFieldMask = (1u << 14) - 1;                 // every field is 14 bits of 16-byte units
    constexpr unsigned long long kSwizzle128 = 1ull << 62;          // layout type 1: 128-byte swizzle
    return (unsigned long long)((address >> 4) & kFieldMask) | ((unsigned long long)((leading_bytes >> 4) & kFieldMask) << 16)
         | ((unsigned long long)((stride_bytes >> 4) & kFieldMask) << 32) | kSwizzle128;
}

// A descriptor moved by 'bytes' (a multiple of 16): the start address is the low field, in 16-byte
// units, and shared addresses stay below 2^18 bytes, so the move never carries into the next field.
// Adding to a descriptor made once per tile spares the per-step field arithmetic (and its moves to
// uniform registers) that building each step's descriptor costs.
__device__ __forceinline__ unsigned long long moved_descriptor(unsigned long long descriptor, unsigned bytes) { return descriptor + (bytes >> 4); }

// K-major operand: reduction step 'step' (16 elements) of the 64- or N-row slice starting at 'tile'
// (the tile's panel 0 base plus first_row x 128). Rows are 128 bytes apart, 8-row groups 1024.
__device__ __forceinline__ unsigned k_major_step_bytes(int tile_rows, int step)
{
    return (step / kStepsPerPanel) * tile_rows * kPanelRowBytes + (step % kStepsPerPanel) * kWgmmaK * 2;
}
__device__ __forceinline__ unsigned long long k_major_descriptor(unsigned tile, int tile_rows, int step)
{
    return moved_descriptor(matrix_descriptor(tile, 16, kSwizzleAtomBytes), k_major_step_bytes(tile_rows, step));
}

// MN-major B operand (the reduction runs over rows): rows 16 step .. 16 step + 15 of a panelled
// tile, N spanning the panels (leading offset = one panel).
__device__ __forceinline__ unsigned long long mn_major_descriptor(unsigned tile, int tile_rows, int step)
{
    return moved_descriptor(matrix_descriptor(tile, tile_rows * kPanelRowBytes, kSwizzleAtomBytes), step * kWgmmaK * kPanelRowBytes);
}

__device__ __forceinline__ void warpgroup_fence() { asm volatile("wgmma.fence.sync.aligned;" ::: "memory"); }
__device__ __forceinline__ void warpgroup_commit() { asm volatile("wgmma.commit_group.sync.aligned;" ::: "memory"); }
// Waits until at most 'Pending' of this thread's most recent commit groups are still running.
template <int Pending>
__device__ __forceinline__ void warpgroup_wait() { asm volatile("wgmma.wait_group.sync.aligned %0;" :: "n"(Pending) : "memory"); }

// Shared memory written by ordinary stores or cp.async must be made visible to the async proxy
// that wgmma reads through (then a barrier).
__device__ __forceinline__ void fence_async_shared() { asm volatile("fence.proxy.async.shared::cta;" ::: "memory"); }

// Keeps the compiler from moving accesses of accumulator registers across wgmma issue and wait.
template <int N>
__device__ __forceinline__ void fence_registers(float (&r)[N])
{
#pragma unroll
    for (int i = 0; i < N; ++i) asm volatile("" : "+f"(r[i]) :: "memory");
}

template <int N>
__device__ __forceinline__ void fence_registers(unsigned (&r)[N])
{
#pragma unroll
    for (int i = 0; i < N; ++i) asm volatile("" : "+r"(r[i]) :: "memory");
}

#if SVG2_ELEMENT_FP16
#define SVG2_WGMMA_TYPES ".f32.f16.f16"
#else
#define SVG2_WGMMA_TYPES ".f32.bf16.bf16"
#endif

#define SVG2_ACCUMULATORS_8(d, i) "+f"(d[i]), "+f"(d[i + 1]), "+f"(d[i + 2]), "+f"(d[i + 3]), "+f"(d[i + 4]), "+f"(d[i + 5]), "+f"(d[i + 6]), "+f"(d[i + 7])
#define SVG2_ACCUMULATORS_32(d) SVG2_ACCUMULATORS_8(d, 0), SVG2_ACCUMULATORS_8(d, 8), SVG2_ACCUMULATORS_8(d, 16), SVG2_ACCUMULATORS_8(d, 24)
#define SVG2_ACCUMULATORS_64(d) SVG2_ACCUMULATORS_32(d), SVG2_ACCUMULATORS_8(d, 32), SVG2_ACCUMULATORS_8(d, 40), SVG2_ACCUMULATORS_8(d, 48), SVG2_ACCUMULATORS_8(d, 56)
#define SVG2_OPERANDS_32 "%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, %16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31"
#define SVG2_OPERANDS_64 SVG2_OPERANDS_32 ", %32, %33, %34, %35, %36, %37, %38, %39, %40, %41, %42, %43, %44, %45, %46, %47, %48, %49, %50, %51, %52, %53, %54, %55, %56, %57, %58, %59, %60, %61, %62, %63"

#define SVG2_ACCUMULATORS_40(d) SVG2_ACCUMULATORS_32(d), SVG2_ACCUMULATORS_8(d, 32)
#define SVG2_ACCUMULATORS_48(d) SVG2_ACCUMULATORS_40(d), SVG2_ACCUMULATORS_8(d, 40)
#define SVG2_ACCUMULATORS_56(d) SVG2_ACCUMULATORS_48(d), SVG2_ACCUMULATORS_8(d, 48)
#define SVG2_OPERANDS_40 SVG2_OPERANDS_32 ", %32, %33, %34, %35, %36, %37, %38, %39"
#define SVG2_OPERANDS_48 SVG2_OPERANDS_40 ", %40, %41, %42, %43, %44, %45, %46, %47"
#define SVG2_OPERANDS_56 SVG2_OPERANDS_48 ", %48, %49, %50, %51, %52, %53, %54, %55"

// D (64 x N) = A B (+ D when 'accumulate'): A and B K-major in shared memory. N / 2 accumulators a thread; operands
// N / 2 and N / 2 + 1 are the descriptors, N / 2 + 2 the accumulate flag.
#define SVG2_WGMMA_SHARED(N, ACCUMULATORS, OPERANDS, A, B, FLAG)                                                          \
    asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, %" #FLAG ", 0;\n"                                                   \
                 "wgmma.mma_async.sync.aligned.m64n" #N "k16" SVG2_WGMMA_TYPES " {" OPERANDS "}, %" #A ", %" #B ", p, 1, 1, 0, 0;\n}\n" \
                 : ACCUMULATORS(d)                                                                                         \
                 : "l"(a), "l"(b), "r"((int)accumulate))

// D (64 x Columns) = A B (+ D when 'accumulate') for the N the kernels use: 64 and 128 (attention, k-means), and 80,
// 96 and 112 (a k-means tile's last centroids, rounded up to 16).
template <int Columns>
__device__ __forceinline__ void wgmma_shared(float (&d)[Columns / 2], unsigned long long a, unsigned long long b, bool accumulate)
{
    static_assert(Columns == 64 || Columns == 80 || Columns == 96 || Columns == 112 || Columns == 128, "wgmma N of the row products");
    if constexpr (Columns == 128) SVG2_WGMMA_SHARED(128, SVG2_ACCUMULATORS_64, SVG2_OPERANDS_64, 64, 65, 66);
    else if constexpr (Columns == 112) SVG2_WGMMA_SHARED(112, SVG2_ACCUMULATORS_56, SVG2_OPERANDS_56, 56, 57, 58);
    else if constexpr (Columns == 96) SVG2_WGMMA_SHARED(96, SVG2_ACCUMULATORS_48, SVG2_OPERANDS_48, 48, 49, 50);
    else if constexpr (Columns == 80) SVG2_WGMMA_SHARED(80, SVG2_ACCUMULATORS_40, SVG2_OPERANDS_40, 40, 41, 42);
    else SVG2_WGMMA_SHARED(64, SVG2_ACCUMULATORS_32, SVG2_OPERANDS_32, 32, 33, 34);
}
#undef SVG2_WGMMA_SHARED

// D (64 x 128) += A B: A (16-bit pairs, the mma.sync A fragment layout per warp) in registers, B
// MN-major in shared memory.
__device__ __forceinline__ void wgmma_64x128_registers(float (&d)[64], const unsigned (&a)[4], unsigned long long b)
{
    asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, %69, 0;\n"
                 "wgmma.mma_async.sync.aligned.m64n128k16" SVG2_WGMMA_TYPES " {" SVG2_OPERANDS_64 "}, {%64, %65, %66, %67}, %68, p, 1, 1, 1;\n}\n"
                 : SVG2_ACCUMULATORS_64(d)
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(b), "r"(1));
}

// D (64 x 64) += A B: as wgmma_64x128_registers with N = 64.
__device__ __forceinline__ void wgmma_64x64_registers(float (&d)[32], const unsigned (&a)[4], unsigned long long b)
{
    asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, %37, 0;\n"
                 "wgmma.mma_async.sync.aligned.m64n64k16" SVG2_WGMMA_TYPES " {" SVG2_OPERANDS_32 "}, {%32, %33, %34, %35}, %36, p, 1, 1, 1;\n}\n"
                 : SVG2_ACCUMULATORS_32(d)
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(b), "r"(1));
}

// D (64 x kHeadDim) += A B with B MN-major: the P V product of attention.
__device__ __forceinline__ void wgmma_head_dim_registers(float (&d)[kHeadDim / 2], const unsigned (&a)[4], unsigned long long b)
{
#if SVG2_HEAD_DIM == 128
    wgmma_64x128_registers(d, a, b);
#else
    wgmma_64x64_registers(d, a, b);
#endif
}

// Issues the K-major product of a 64-row slice of a tile of 'a_rows' rows with the first 'Columns'
// (wgmma_shared's N) rows of 'b_tile' (a tile of 'b_rows' rows) over the whole head dimension as one commit
// group: D = A B^T, or D += A B^T when 'accumulate' (D then holds its starting values).
template <int Columns>
__device__ __forceinline__ void wgmma_rows_by_rows(float (&d)[Columns / 2], unsigned a_slice, int a_rows, unsigned b_tile, int b_rows,
                                                   bool accumulate = false)
{
    fence_registers(d);
    warpgroup_fence();
    const unsigned long long a_first = k_major_descriptor(a_slice, a_rows, 0), b_first = k_major_descriptor(b_tile, b_rows, 0);
#pragma unroll
    for (int step = 0; step < kWgmmaKSteps; ++step)
    {
        const unsigned long long a = moved_descriptor(a_first, k_major_step_bytes(a_rows, step));
        const unsigned long long b = moved_descriptor(b_first, k_major_step_bytes(b_rows, step));
        wgmma_shared<Columns>(d, a, b, accumulate || step > 0);
    }
    warpgroup_commit();
}
