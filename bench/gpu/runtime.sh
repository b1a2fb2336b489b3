# Sourced by the GPU machine's scripts (ncu.sh, sanitize_grad.sh,
# forward_run.sh):
# `out` is the results folder (OUT, else ./out), created; the CUDA runtime
# is built once into /tmp/libsa.so (it needs only libdl).
out="${OUT:-out}"
mkdir -p "$out"
[ -f /tmp/libsa.so ] || cc -O2 -std=c99 -shared -fPIC runtime/cuda/sparse_attn_cuda.c \
  -o /tmp/libsa.so -ldl || exit 1
