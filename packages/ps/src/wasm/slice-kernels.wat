;; The shard's hot loops over an experiment's slice, in WebAssembly with 128-bit SIMD (four float32 lanes).
;;
;; The memory is the slice arena of packages/ps/src/arena.ts: parameters, Adam's first and second moments and
;; the incoming gradient, each a float32 region. Every pointer is a byte offset aligned to 16 bytes and every
;; count is a multiple of 4, which the arena guarantees by padding each tensor to four values.
;;
;; Regenerate packages/ps/src/wasm/slice-kernels.ts after editing: node scripts/build-wasm.js
(module
  (memory (import "env" "memory") 1)

  ;; One Adam step over n values (Kingma & Ba 2015, Algorithm 1), in place:
  ;;   g = grad * scale
  ;;   m = b1 * m + a1 * g               (a1 = 1 - b1)
  ;;   v = b2 * v + a2 * g * g           (a2 = 1 - b2)
  ;;   p = p - step * m / (sqrt(v) * ic2 + eps)
  ;; with step = lr / (1 - b1^t) and ic2 = 1 / sqrt(1 - b2^t), so that m / (sqrt(v / (1 - b2^t)) + eps) takes one
  ;; square root and one division per value.
  (func (export "adam")
    (param $p i32) (param $m i32) (param $v i32) (param $g i32) (param $n i32)
    (param $scale f32) (param $b1 f32) (param $a1 f32) (param $b2 f32) (param $a2 f32)
    (param $step f32) (param $ic2 f32) (param $eps f32)
    (local $end i32) (local $gi v128) (local $mi v128) (local $vi v128)
    (local $vscale v128) (local $vb1 v128) (local $va1 v128) (local $vb2 v128) (local $va2 v128)
    (local $vstep v128) (local $vic2 v128) (local $veps v128)
    (local.set $vscale (f32x4.splat (local.get $scale)))
    (local.set $vb1 (f32x4.splat (local.get $b1)))
    (local.set $va1 (f32x4.splat (local.get $a1)))
    (local.set $vb2 (f32x4.splat (local.get $b2)))
    (local.set $va2 (f32x4.splat (local.get $a2)))
    (local.set $vstep (f32x4.splat (local.get $step)))
    (local.set $vic2 (f32x4.splat (local.get $ic2)))
    (local.set $veps (f32x4.splat (local.get $eps)))
    (local.set $end (i32.add (local.get $p) (i32.shl (local.get $n) (i32.const 2))))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $p) (local.get $end)))
        (local.set $gi (f32x4.mul (v128.load (local.get $g)) (local.get $vscale)))
        (local.set $mi
          (f32x4.add
            (f32x4.mul (local.get $vb1) (v128.load (local.get $m)))
            (f32x4.mul (local.get $va1) (local.get $gi))))
        (local.set $vi
          (f32x4.add
            (f32x4.mul (local.get $vb2) (v128.load (local.get $v)))
            (f32x4.mul (local.get $va2) (f32x4.mul (local.get $gi) (local.get $gi)))))
        (v128.store (local.get $m) (local.get $mi))
        (v128.store (local.get $v) (local.get $vi))
        (v128.store (local.get $p)
          (f32x4.sub
            (v128.load (local.get $p))
            (f32x4.div
              (f32x4.mul (local.get $vstep) (local.get $mi))
              (f32x4.add (f32x4.mul (f32x4.sqrt (local.get $vi)) (local.get $vic2)) (local.get $veps)))))
        (local.set $p (i32.add (local.get $p) (i32.const 16)))
        (local.set $m (i32.add (local.get $m) (i32.const 16)))
        (local.set $v (i32.add (local.get $v) (i32.const 16)))
        (local.set $g (i32.add (local.get $g) (i32.const 16)))
        (br $next))))

  ;; 1 when all n values at x are finite, 0 when any is NaN or ±Infinity: x - x is 0 for a finite x and NaN
  ;; otherwise, and NaN survives the sum.
  (func (export "allFinite") (param $x i32) (param $n i32) (result i32)
    (local $end i32) (local $acc v128) (local $xi v128)
    (local.set $end (i32.add (local.get $x) (i32.shl (local.get $n) (i32.const 2))))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $x) (local.get $end)))
        (local.set $xi (v128.load (local.get $x)))
        (local.set $acc (f32x4.add (local.get $acc) (f32x4.sub (local.get $xi) (local.get $xi))))
        (local.set $x (i32.add (local.get $x) (i32.const 16)))
        (br $next)))
    (i32.eqz (v128.any_true (f32x4.ne (local.get $acc) (v128.const i32x4 0 0 0 0)))))
)
