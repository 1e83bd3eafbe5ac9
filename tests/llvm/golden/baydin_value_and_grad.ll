; ModuleID = "graphc_kernel"
target triple = "<host>"
target datalayout = "<host>"

define void @"kernel"(i64 %"start", i64 %"end", ptr noalias %"inputs", ptr noalias %"outputs", i64 %"flags") noinline nounwind
{
entry:
  %".7" = getelementptr inbounds ptr, ptr %"inputs", i64 0
  %"in0_ptr" = load ptr, ptr %".7"
  %".8" = getelementptr inbounds ptr, ptr %"inputs", i64 1
  %"in1_ptr" = load ptr, ptr %".8"
  %".9" = getelementptr inbounds ptr, ptr %"outputs", i64 0
  %"out0_ptr" = load ptr, ptr %".9"
  %".10" = getelementptr inbounds ptr, ptr %"outputs", i64 1
  %"out1_ptr" = load ptr, ptr %".10"
  %".11" = getelementptr inbounds ptr, ptr %"outputs", i64 2
  %"out2_ptr" = load ptr, ptr %".11"
  %".12" = icmp slt i64 %"start", %"end"
  br i1 %".12", label %"loop", label %"exit"
loop:
  %"i" = phi  i64 [%"start", %"entry"], [%"i_next", %"loop"]
  %".14" = getelementptr inbounds double, ptr %"in0_ptr", i64 %"i"
  %"x1" = load double, ptr %".14"
  %".15" = getelementptr inbounds double, ptr %"in1_ptr", i64 %"i"
  %"x2" = load double, ptr %".15"
  %".16" = call double @"llvm.log.f64"(double %"x1")
  %".17" = fmul double %"x1", %"x2"
  %".18" = fadd double %".16", %".17"
  %".19" = call double @"llvm.sin.f64"(double %"x2")
  %".20" = fsub double %".18", %".19"
  %".21" = fadd double %"x1",              0x0
  %".22" = fdiv double 0x3ff0000000000000, %".21"
  %".23" = fadd double %"x2", %".22"
  %".24" = call double @"llvm.cos.f64"(double %"x2")
  %".25" = fsub double %"x1", %".24"
  %".26" = getelementptr inbounds double, ptr %"out0_ptr", i64 %"i"
  store double %".20", ptr %".26"
  %".28" = getelementptr inbounds double, ptr %"out1_ptr", i64 %"i"
  store double %".23", ptr %".28"
  %".30" = getelementptr inbounds double, ptr %"out2_ptr", i64 %"i"
  store double %".25", ptr %".30"
  %"i_next" = add nsw i64 %"i", 1
  %".32" = icmp slt i64 %"i_next", %"end"
  br i1 %".32", label %"loop", label %"exit"
exit:
  ret void
}

declare double @"llvm.log.f64"(double %".1")

declare double @"llvm.sin.f64"(double %".1")

declare double @"llvm.cos.f64"(double %".1")
