// Peer: boost.context's low-level jump_fcontext / make_fcontext.
// Usage: peer-boost-context switch|create ITERATIONS — prints ns per operation.
//   switch: two contexts ping-ponging on one thread (ns per switch)
//   create: malloc a stack, make a context, run it to completion, free (ns each)
#include <boost/context/detail/fcontext.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace ctx = boost::context::detail;

static unsigned long rounds;
static volatile unsigned long sink;

static void pingpong(ctx::transfer_t t)
{
    for (unsigned long i = 0; i < rounds; i++)
        t = ctx::jump_fcontext(t.fctx, nullptr);
    ctx::jump_fcontext(t.fctx, nullptr);
}

static void empty(ctx::transfer_t t)
{
    sink++;
    ctx::jump_fcontext(t.fctx, nullptr);
}

static double now_ns()
{
    using namespace std::chrono;
    return (double)duration_cast<nanoseconds>(steady_clock::now().time_since_epoch()).count();
}

int main(int argc, char **argv)
{
    if (argc != 3)
        return 2;
    unsigned long iters = std::strtoul(argv[2], nullptr, 10);
    const std::size_t size = 64 * 1024;
    if (!std::strcmp(argv[1], "switch")) {
        rounds = iters / 2;
        void *stack = std::malloc(size);
        ctx::fcontext_t c = ctx::make_fcontext((char *)stack + size, size, pingpong);
        double t0 = now_ns();
        ctx::transfer_t t = {c, nullptr};
        for (unsigned long i = 0; i <= rounds; i++)
            t = ctx::jump_fcontext(t.fctx, nullptr);
        double t1 = now_ns();
        std::free(stack);
        std::printf("%.3f\n", (t1 - t0) / (double)(rounds * 2));
        return 0;
    }
    if (!std::strcmp(argv[1], "create")) {
        double t0 = now_ns();
        for (unsigned long i = 0; i < iters; i++) {
            void *stack = std::malloc(size);
            ctx::fcontext_t c = ctx::make_fcontext((char *)stack + size, size, empty);
            ctx::jump_fcontext(c, nullptr);
            std::free(stack);
        }
        double t1 = now_ns();
        std::printf("%.3f\n", (t1 - t0) / (double)iters);
        return 0;
    }
    return 2;
}
