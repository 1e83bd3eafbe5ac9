; ModuleID = "graphc_kernel"
target triple = "<host>"
target datalayout = "<host>"

define void @"kernel"(i64 %"start", i64 %"end", ptr noalias %"inputs", ptr noalias %"outputs", i64 %"flags") noinline nounwind
{
entry:
  %".7" = getelementptr inbounds ptr, ptr %"inputs", i64 0
  %"in0_ptr" = load ptr, ptr %".7"
  %".8" = getelementptr inbounds ptr, ptr %"outputs", i64 0
  %"out0_ptr" = load ptr, ptr %".8"
  %".9" = getelementptr inbounds ptr, ptr %"outputs", i64 1
  %"out1_ptr" = load ptr, ptr %".9"
  %".10" = icmp slt i64 %"start", %"end"
  br i1 %".10", label %"loop", label %"exit"
loop:
  %"i" = phi  i64 [%"start", %"entry"], [%"i_next", %"loop"]
  %".12" = getelementptr inbounds double, ptr %"in0_ptr", i64 %"i"
  %"x" = load double, ptr %".12"
  %".13" = fmul double %"x", %"x"
  %".14" = call double @"llvm.exp.f64"(double %".13")
  %".15" = fadd double %".13", %".14"
  %".16" = call double @"llvm.sqrt.f64"(double %".15")
  %".17" = call double @"llvm.cos.f64"(double %".15")
  %".18" = fadd double %".16", %".17"
  %".19" = fadd double %".16",              0x0
  %".20" = fdiv double 0x3fe0000000000000, %".19"
  %".21" = call double @"llvm.sin.f64"(double %".15")
  %".22" = fsub double %".20", %".21"
  %".23" = fmul double %".22", %".14"
  %".24" = fadd double %".22", %".23"
  %".25" = fmul double 0x4000000000000000, %"x"
  %".26" = fmul double %".24", %".25"
  %".27" = getelementptr inbounds double, ptr %"out0_ptr", i64 %"i"
  store double %".18", ptr %".27"
  %".29" = getelementptr inbounds double, ptr %"out1_ptr", i64 %"i"
  store double %".26", ptr %".29"
  %"i_next" = add nsw i64 %"i", 1
  %".31" = icmp slt i64 %"i_next", %"end"
  br i1 %".31", label %"loop", label %"exit"
exit:
  ret void
}

declare double @"llvm.exp.f64"(double %".1")

declare double @"llvm.sqrt.f64"(double %".1")

declare double @"llvm.cos.f64"(double %".1")

declare double @"llvm.sin.f64"(double %".1")
