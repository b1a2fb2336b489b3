// RUN: sparse-attn-inspect %s --block=4x4 | FileCheck %s --check-prefix=SUMMARY
// RUN: sparse-attn-inspect %s --op=0 --format=bits | FileCheck %s --check-prefix=BITS
// RUN: sparse-attn-inspect %s --op=0 --format=blocks --block=4x4 | FileCheck %s --check-prefix=BLOCKS
// RUN: sparse-attn-inspect %s --format=blocks --block=3x5 | FileCheck %s --check-prefix=MULTI
// RUN: sparse-attn-inspect %s --op=1 --format=png -o %t.png --scale=2 2>&1 | FileCheck %s --check-prefix=PNG
// RUN: od -A n -t x1 -N 8 %t.png | FileCheck %s --check-prefix=MAGIC
// RUN: sparse-attn-inspect %s --op=1 --format=svg -o %t.svg 2>&1 | FileCheck %s --check-prefix=PNG
// RUN: FileCheck %s --input-file=%t.svg --check-prefix=SVG
// RUN: sparse-attn-inspect %s --op=1 --format=png -o %t-small.png --max-cells=5 2>&1 | FileCheck %s --check-prefix=REDUCED

// SUMMARY:      op 0 at {{.*}}formats.mlir:{{[0-9]+}}:8
// SUMMARY-NEXT:   pattern: #sparse_attn.window<before = 2, after = 1>
// SUMMARY-NEXT:   Sq x Sk: 10 x 10
// SUMMARY-NEXT:   element density: 0.360000 (36 of 100 pairs)
// SUMMARY-NEXT:   tiles 4x4: 3 x 3, 1 full, 6 partial, 2 empty
// SUMMARY-NEXT:   tile density: 0.777778
// SUMMARY:      op 1 at
// SUMMARY-NEXT:   pattern: #sparse_attn.union<[#sparse_attn.causal, #sparse_attn.global<[9]>]>
// SUMMARY-NEXT:   Sq x Sk: 10 x 10
// SUMMARY-NEXT:   element density: 0.640000 (64 of 100 pairs)

// BITS:      1100000000
// BITS-NEXT: 1110000000
// BITS-NEXT: 1111000000
// BITS-NEXT: 0111100000
// BITS-NEXT: 0011110000
// BITS-NEXT: 0001111000
// BITS-NEXT: 0000111100
// BITS-NEXT: 0000011110
// BITS-NEXT: 0000001111
// BITS-NEXT: 0000000111
// BITS-NOT: {{.}}

// BLOCKS:      PP.
// BLOCKS-NEXT: PPP
// BLOCKS-NEXT: .PF
// BLOCKS-NOT: {{.}}

func.func @f(%q: tensor<1x1x10x4xf32>) -> (tensor<1x1x10x4xf32>, tensor<1x1x10x4xf32>) {
  %init0 = tensor.empty() : tensor<1x1x10x4xf32>
  %a = sparse_attn.attention %q, %q, %q outs(%init0 : tensor<1x1x10x4xf32>) {pattern = #sparse_attn.window<before = 2, after = 1>} : tensor<1x1x10x4xf32>, tensor<1x1x10x4xf32>, tensor<1x1x10x4xf32> -> tensor<1x1x10x4xf32>
  %init1 = tensor.empty() : tensor<1x1x10x4xf32>
  %b = sparse_attn.attention %q, %q, %q outs(%init1 : tensor<1x1x10x4xf32>) {pattern = #sparse_attn.union<[#sparse_attn.causal, #sparse_attn.global<[9]>]>} : tensor<1x1x10x4xf32>, tensor<1x1x10x4xf32>, tensor<1x1x10x4xf32> -> tensor<1x1x10x4xf32>
  return %a, %b : tensor<1x1x10x4xf32>, tensor<1x1x10x4xf32>
}

// Several ops: each map is preceded by a header line.
// MULTI:      # op 0 at {{.*}}: #sparse_attn.window<before = 2, after = 1>
// MULTI-NEXT: P.
// MULTI-NEXT: PP
// MULTI-NEXT: PP
// MULTI-NEXT: .P
// MULTI-NEXT: # op 1 at {{.*}}: #sparse_attn.union
// MULTI-NEXT: PP
// MULTI-NEXT: PP
// MULTI-NEXT: FP
// MULTI-NEXT: FF

// PNG: wrote {{.*}}: 10 x 10 cells of 1x1 elements
// MAGIC: 89 50 4e 47 0d 0a 1a 0a
// SVG: <svg xmlns="http://www.w3.org/2000/svg"
// SVG: <title>#sparse_attn.union&lt;[#sparse_attn.causal, #sparse_attn.global&lt;[9]&gt;]&gt;</title>
// SVG: </svg>
// REDUCED: wrote {{.*}}: 5 x 5 cells of 2x2 elements
