#qk_q = affine_map<(b, h, i, j, d) -> (b, h, i, d)>
#qk_k = affine_map<(b, h, i, j, d) -> (b, h, j, d)>
#qk_s = affine_map<(b, h, i, j, d) -> (b, h, i, j)>
#pv_p = affine_map<(b, h, i, e, j) -> (b, h, i, j)>
#pv_v = affine_map<(b, h, i, e, j) -> (b, h, j, e)>
#pv_o = affine_map<(b, h, i, e, j) -> (b, h, i, e)>
#id4 = affine_map<(b, h, i, j) -> (b, h, i, j)>
#row = affine_map<(b, h, i, j) -> (b, h, i)>
#ij = affine_map<(b, h, i, j) -> (i, j)>
func.func @causal_dynamic_dv(%q: tensor<1x2x16x8xf32>, %k: tensor<1x2x16x8xf32>, %v: tensor<1x2x16x?xf32>) -> tensor<1x2x16x?xf32> {
  %c3 = arith.constant 3 : index
  %dv = tensor.dim %v, %c3 : tensor<1x2x16x?xf32>
  %zero = arith.constant 0.0 : f32
  %ninf = arith.constant 0xFF800000 : f32
  %e0 = tensor.empty() : tensor<1x2x16x16xf32>
  %z0 = linalg.fill ins(%zero : f32) outs(%e0 : tensor<1x2x16x16xf32>) -> tensor<1x2x16x16xf32>
  %s = linalg.generic {indexing_maps = [#qk_q, #qk_k, #qk_s], iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction"]}
      ins(%q, %k : tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32>) outs(%z0 : tensor<1x2x16x16xf32>) {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %m = arith.mulf %a, %b : f32
    %r = arith.addf %acc, %m : f32
    linalg.yield %r : f32
  } -> tensor<1x2x16x16xf32>
  %e1 = tensor.empty() : tensor<1x2x16x16xf32>
  %sc = linalg.generic {indexing_maps = [#id4, #id4], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%s : tensor<1x2x16x16xf32>) outs(%e1 : tensor<1x2x16x16xf32>) {
  ^bb0(%a: f32, %o: f32):
    %c = arith.constant 0.353553385 : f32
    %r = arith.mulf %a, %c : f32
    linalg.yield %r : f32
  } -> tensor<1x2x16x16xf32>
  %e2 = tensor.empty() : tensor<1x2x16x16xf32>
  %x = linalg.generic {indexing_maps = [#id4, #id4], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%sc : tensor<1x2x16x16xf32>) outs(%e2 : tensor<1x2x16x16xf32>) {
  ^bb0(%a: f32, %o: f32):
    %i = linalg.index 2 : index
    %j = linalg.index 3 : index
    %ok = arith.cmpi sle, %j, %i : index

    %n = arith.constant 0xFF800000 : f32
    %r = arith.select %ok, %a, %n : f32
    linalg.yield %r : f32
  } -> tensor<1x2x16x16xf32>
  %e3 = tensor.empty() : tensor<1x2x16xf32>
  %mi = linalg.fill ins(%ninf : f32) outs(%e3 : tensor<1x2x16xf32>) -> tensor<1x2x16xf32>
  %mx = linalg.generic {indexing_maps = [#id4, #row], iterator_types = ["parallel", "parallel", "parallel", "reduction"]}
      ins(%x : tensor<1x2x16x16xf32>) outs(%mi : tensor<1x2x16xf32>) {
  ^bb0(%a: f32, %o: f32):
    %r = arith.maximumf %a, %o : f32
    linalg.yield %r : f32
  } -> tensor<1x2x16xf32>
  %e4 = tensor.empty() : tensor<1x2x16x16xf32>
  %ex = linalg.generic {indexing_maps = [#id4, #row, #id4], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%x, %mx : tensor<1x2x16x16xf32>, tensor<1x2x16xf32>) outs(%e4 : tensor<1x2x16x16xf32>) {
  ^bb0(%a: f32, %m: f32, %o: f32):
    %d = arith.subf %a, %m : f32
    %r = math.exp %d : f32
    linalg.yield %r : f32
  } -> tensor<1x2x16x16xf32>
  %li = linalg.fill ins(%zero : f32) outs(%e3 : tensor<1x2x16xf32>) -> tensor<1x2x16xf32>
  %l = linalg.generic {indexing_maps = [#id4, #row], iterator_types = ["parallel", "parallel", "parallel", "reduction"]}
      ins(%ex : tensor<1x2x16x16xf32>) outs(%li : tensor<1x2x16xf32>) {
  ^bb0(%a: f32, %o: f32):
    %r = arith.addf %a, %o : f32
    linalg.yield %r : f32
  } -> tensor<1x2x16xf32>
  %p = linalg.generic {indexing_maps = [#id4, #row, #id4], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%ex, %l : tensor<1x2x16x16xf32>, tensor<1x2x16xf32>) outs(%e4 : tensor<1x2x16x16xf32>) {
  ^bb0(%a: f32, %n: f32, %o: f32):
    %r = arith.divf %a, %n : f32
    linalg.yield %r : f32
  } -> tensor<1x2x16x16xf32>
  %e5 = tensor.empty(%dv) : tensor<1x2x16x?xf32>
  %z5 = linalg.fill ins(%zero : f32) outs(%e5 : tensor<1x2x16x?xf32>) -> tensor<1x2x16x?xf32>
  %out = linalg.generic {indexing_maps = [#pv_p, #pv_v, #pv_o], iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction"]}
      ins(%p, %v : tensor<1x2x16x16xf32>, tensor<1x2x16x?xf32>) outs(%z5 : tensor<1x2x16x?xf32>) {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %m = arith.mulf %a, %b : f32
    %r = arith.addf %acc, %m : f32
    linalg.yield %r : f32
  } -> tensor<1x2x16x?xf32>
  return %out : tensor<1x2x16x?xf32>
}
