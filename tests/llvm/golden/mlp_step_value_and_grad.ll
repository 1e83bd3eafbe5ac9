; ModuleID = "graphc_arrays"
target triple = "<host>"
target datalayout = "<host>"

define void @"kernel"(i64 %"start", i64 %"end", ptr %"inputs", ptr %"outputs") "min-legal-vector-width"="128" "prefer-vector-width"="128" nounwind
{
entry:
  %".6" = getelementptr inbounds ptr, ptr %"inputs", i64 0
  %"in0" = load ptr, ptr %".6"
  %".7" = getelementptr inbounds ptr, ptr %"inputs", i64 1
  %"in1" = load ptr, ptr %".7"
  %".8" = getelementptr inbounds ptr, ptr %"inputs", i64 2
  %"in2" = load ptr, ptr %".8"
  %".9" = getelementptr inbounds ptr, ptr %"inputs", i64 3
  %"in3" = load ptr, ptr %".9"
  %".10" = getelementptr inbounds ptr, ptr %"inputs", i64 4
  %"in4" = load ptr, ptr %".10"
  %".11" = getelementptr inbounds ptr, ptr %"inputs", i64 5
  %"in5" = load ptr, ptr %".11"
  %".12" = getelementptr inbounds ptr, ptr %"inputs", i64 6
  %"in6" = load ptr, ptr %".12"
  %".13" = getelementptr inbounds ptr, ptr %"outputs", i64 0
  %"out0" = load ptr, ptr %".13"
  %".14" = getelementptr inbounds ptr, ptr %"outputs", i64 1
  %"out1" = load ptr, ptr %".14"
  %".15" = getelementptr inbounds ptr, ptr %"outputs", i64 2
  %"out2" = load ptr, ptr %".15"
  %".16" = getelementptr inbounds ptr, ptr %"outputs", i64 3
  %"out3" = load ptr, ptr %".16"
  %".17" = getelementptr inbounds ptr, ptr %"outputs", i64 4
  %"out4" = load ptr, ptr %".17"
  %".21" = getelementptr inbounds i8, ptr %"in6", i64 0
  %".79" = getelementptr inbounds i8, ptr %"in6", i64 64
  %".101" = getelementptr inbounds i8, ptr %"in6", i64 128
  %".174" = getelementptr inbounds i8, ptr %"in6", i64 192
  br label %"fill"
fill:
  %"fill_i" = phi  i64 [0, %"entry"], [%".24", %"fill"]
  %".19" = mul i64 %"fill_i", 2
  %".20" = add i64 %".19", 0
  %".22" = getelementptr inbounds double, ptr %".21", i64 %".20"
  store <2 x double> <double              0x0, double              0x0>, ptr %".22", align 8
  %".24" = add nsw i64 %"fill_i", 1
  %".25" = icmp slt i64 %".24", 1
  br i1 %".25", label %"fill", label %"fill_end"
fill_end:
  %".27" = getelementptr inbounds double, ptr %".21", i64 2
  store double              0x0, ptr %".27"
  br label %"mm_i"
mm_i:
  %"mm_i_i" = phi  i64 [0, %"fill_end"], [%".59", %"mm_p_end"]
  br label %"mm_p"
mm_i_end:
  br label %"v"
mm_p:
  %"mm_p_i" = phi  i64 [0, %"mm_i"], [%".56", %"mm_j_end"]
  %".31" = mul i64 %"mm_i_i", 2
  %".32" = mul i64 %"mm_p_i", 1
  %".33" = add i64 %".31", %".32"
  %".34" = add i64 0, %".33"
  %".35" = getelementptr inbounds double, ptr %"in0", i64 %".34"
  %".36" = load double, ptr %".35"
  br label %"mm_j"
mm_p_end:
  %".59" = add nsw i64 %"mm_i_i", 1
  %".60" = icmp slt i64 %".59", 3
  br i1 %".60", label %"mm_i", label %"mm_i_end"
mm_j:
  %"mm_j_i" = phi  i64 [0, %"mm_p"], [%".53", %"mm_j"]
  %".38" = mul i64 %"mm_p_i", 1
  %".39" = mul i64 %"mm_j_i", 1
  %".40" = add i64 %".38", %".39"
  %".41" = add i64 0, %".40"
  %".42" = getelementptr inbounds double, ptr %"in5", i64 %".41"
  %".43" = mul i64 %"mm_i_i", 1
  %".44" = mul i64 %"mm_j_i", 1
  %".45" = add i64 %".43", %".44"
  %".46" = add i64 0, %".45"
  %".47" = getelementptr inbounds double, ptr %".21", i64 %".46"
  %".48" = load double, ptr %".47"
  %".49" = load double, ptr %".42"
  %".50" = fmul double %".36", %".49"
  %".51" = fadd double %".48", %".50"
  store double %".51", ptr %".47"
  %".53" = add nsw i64 %"mm_j_i", 1
  %".54" = icmp slt i64 %".53", 1
  br i1 %".54", label %"mm_j", label %"mm_j_end"
mm_j_end:
  %".56" = add nsw i64 %"mm_p_i", 1
  %".57" = icmp slt i64 %".56", 2
  br i1 %".57", label %"mm_p", label %"mm_p_end"
v:
  %"v_i" = phi  i64 [0, %"mm_i_end"], [%".82", %"v"]
  %".63" = add i64 %"v_i", 0
  %".64" = mul i64 %".63", 2
  %".65" = add i64 0, %".64"
  %".66" = getelementptr inbounds double, ptr %".21", i64 %".65"
  %".67" = load <2 x double>, ptr %".66", align 8
  %".68" = add i64 0, %".64"
  %".69" = getelementptr inbounds double, ptr %"in2", i64 %".68"
  %".70" = load <2 x double>, ptr %".69", align 8
  %".71" = fadd <2 x double> %".67", %".70"
  %".72" = extractelement <2 x double> %".71", i32 0
  %".73" = call double @"tanh"(double %".72")
  %".74" = insertelement <2 x double> <double undef, double undef>, double %".73", i32 0
  %".75" = extractelement <2 x double> %".71", i32 1
  %".76" = call double @"tanh"(double %".75")
  %".77" = insertelement <2 x double> %".74", double %".76", i32 1
  %".78" = add i64 0, %".64"
  %".80" = getelementptr inbounds double, ptr %".79", i64 %".78"
  store <2 x double> %".77", ptr %".80", align 8
  %".82" = add nsw i64 %"v_i", 1
  %".83" = icmp slt i64 %".82", 1
  br i1 %".83", label %"v", label %"v_end"
v_end:
  %".85" = add i64 0, 2
  %".86" = getelementptr inbounds double, ptr %".21", i64 %".85"
  %".87" = call <2 x double> @"llvm.masked.load.v2f64.p0"(ptr %".86", i32 8, <2 x i1> <i1 1, i1 0>, <2 x double> <double 0x3ff0000000000000, double 0x3ff0000000000000>)
  %".88" = add i64 0, 2
  %".89" = getelementptr inbounds double, ptr %"in2", i64 %".88"
  %".90" = call <2 x double> @"llvm.masked.load.v2f64.p0"(ptr %".89", i32 8, <2 x i1> <i1 1, i1 0>, <2 x double> <double 0x3ff0000000000000, double 0x3ff0000000000000>)
  %".91" = fadd <2 x double> %".87", %".90"
  %".92" = extractelement <2 x double> %".91", i32 0
  %".93" = call double @"tanh"(double %".92")
  %".94" = insertelement <2 x double> <double undef, double undef>, double %".93", i32 0
  %".95" = extractelement <2 x double> %".91", i32 1
  %".96" = call double @"tanh"(double %".95")
  %".97" = insertelement <2 x double> %".94", double %".96", i32 1
  %".98" = add i64 0, 2
  %".99" = getelementptr inbounds double, ptr %".79", i64 %".98"
  call void @"llvm.masked.store.v2f64.p0"(<2 x double> %".97", ptr %".99", i32 8, <2 x i1> <i1 1, i1 0>)
  %".102" = getelementptr inbounds double, ptr %".101", i64 0
  store double              0x0, ptr %".102"
  br label %"mm_i.1"
mm_i.1:
  %"mm_i_i.1" = phi  i64 [0, %"v_end"], [%".134", %"mm_p_end.1"]
  br label %"mm_p.1"
mm_i_end.1:
  %".137" = getelementptr inbounds double, ptr %"out0", i64 0
  store double              0x0, ptr %".137"
  %".139" = getelementptr inbounds double, ptr %".101", i64 0
  %".140" = load double, ptr %".139"
  %".141" = insertelement <2 x double> <double undef, double undef>, double %".140", i32 0
  %".142" = shufflevector <2 x double> %".141", <2 x double> <double undef, double undef>, <2 x i32> <i32 0, i32 0>
  %".143" = getelementptr inbounds double, ptr %"in3", i64 0
  %".144" = load double, ptr %".143"
  %".145" = insertelement <2 x double> <double undef, double undef>, double %".144", i32 0
  %".146" = shufflevector <2 x double> %".145", <2 x double> <double undef, double undef>, <2 x i32> <i32 0, i32 0>
  %".147" = getelementptr inbounds double, ptr %"in4", i64 0
  %".148" = load double, ptr %".147"
  %".149" = insertelement <2 x double> <double undef, double undef>, double %".148", i32 0
  %".150" = shufflevector <2 x double> %".149", <2 x double> <double undef, double undef>, <2 x i32> <i32 0, i32 0>
  %".151" = fadd <2 x double> %".142", %".146"
  %".152" = fsub <2 x double> %".151", %".150"
  %".153" = fmul <2 x double> %".152", %".152"
  %".154" = fmul <2 x double> <double 0x4000000000000000, double 0x4000000000000000>, %".152"
  %".155" = fmul <2 x double> <double 0x3ff0000000000000, double 0x3ff0000000000000>, %".154"
  %".156" = select  <2 x i1> <i1 1, i1 0>, <2 x double> %".153", <2 x double> <double              0x0, double              0x0>
  %".157" = fadd <2 x double> <double              0x0, double              0x0>, %".156"
  %".158" = mul i64 0, 0
  %".159" = add i64 0, %".158"
  %".160" = add i64 %".159", 0
  %".161" = getelementptr inbounds double, ptr %"out4", i64 %".160"
  %".162" = extractelement <2 x double> %".155", i32 0
  store double %".162", ptr %".161"
  %".164" = extractelement <2 x double> %".157", i32 0
  %".165" = extractelement <2 x double> %".157", i32 1
  %".166" = fadd double %".164", %".165"
  %".167" = getelementptr inbounds double, ptr %"out0", i64 0
  %".168" = load double, ptr %".167"
  %".169" = fadd double %".168", %".166"
  store double %".169", ptr %".167"
  br label %"fill.1"
mm_p.1:
  %"mm_p_i.1" = phi  i64 [0, %"mm_i.1"], [%".131", %"mm_j_end.1"]
  %".106" = mul i64 %"mm_i_i.1", 3
  %".107" = mul i64 %"mm_p_i.1", 1
  %".108" = add i64 %".106", %".107"
  %".109" = add i64 0, %".108"
  %".110" = getelementptr inbounds double, ptr %"in1", i64 %".109"
  %".111" = load double, ptr %".110"
  br label %"mm_j.1"
mm_p_end.1:
  %".134" = add nsw i64 %"mm_i_i.1", 1
  %".135" = icmp slt i64 %".134", 1
  br i1 %".135", label %"mm_i.1", label %"mm_i_end.1"
mm_j.1:
  %"mm_j_i.1" = phi  i64 [0, %"mm_p.1"], [%".128", %"mm_j.1"]
  %".113" = mul i64 %"mm_p_i.1", 1
  %".114" = mul i64 %"mm_j_i.1", 1
  %".115" = add i64 %".113", %".114"
  %".116" = add i64 0, %".115"
  %".117" = getelementptr inbounds double, ptr %".79", i64 %".116"
  %".118" = mul i64 %"mm_i_i.1", 1
  %".119" = mul i64 %"mm_j_i.1", 1
  %".120" = add i64 %".118", %".119"
  %".121" = add i64 0, %".120"
  %".122" = getelementptr inbounds double, ptr %".101", i64 %".121"
  %".123" = load double, ptr %".122"
  %".124" = load double, ptr %".117"
  %".125" = fmul double %".111", %".124"
  %".126" = fadd double %".123", %".125"
  store double %".126", ptr %".122"
  %".128" = add nsw i64 %"mm_j_i.1", 1
  %".129" = icmp slt i64 %".128", 1
  br i1 %".129", label %"mm_j.1", label %"mm_j_end.1"
mm_j_end.1:
  %".131" = add nsw i64 %"mm_p_i.1", 1
  %".132" = icmp slt i64 %".131", 3
  br i1 %".132", label %"mm_p.1", label %"mm_p_end.1"
fill.1:
  %"fill_i.1" = phi  i64 [0, %"mm_i_end.1"], [%".177", %"fill.1"]
  %".172" = mul i64 %"fill_i.1", 2
  %".173" = add i64 %".172", 0
  %".175" = getelementptr inbounds double, ptr %".174", i64 %".173"
  store <2 x double> <double              0x0, double              0x0>, ptr %".175", align 8
  %".177" = add nsw i64 %"fill_i.1", 1
  %".178" = icmp slt i64 %".177", 1
  br i1 %".178", label %"fill.1", label %"fill_end.1"
fill_end.1:
  %".180" = getelementptr inbounds double, ptr %".174", i64 2
  store double              0x0, ptr %".180"
  br label %"mm_i.2"
mm_i.2:
  %"mm_i_i.2" = phi  i64 [0, %"fill_end.1"], [%".212", %"mm_p_end.2"]
  br label %"mm_p.2"
mm_i_end.2:
  br label %"fill.2"
mm_p.2:
  %"mm_p_i.2" = phi  i64 [0, %"mm_i.2"], [%".209", %"mm_j_end.2"]
  %".184" = mul i64 %"mm_i_i.2", 1
  %".185" = mul i64 %"mm_p_i.2", 3
  %".186" = add i64 %".184", %".185"
  %".187" = add i64 0, %".186"
  %".188" = getelementptr inbounds double, ptr %"in1", i64 %".187"
  %".189" = load double, ptr %".188"
  br label %"mm_j.2"
mm_p_end.2:
  %".212" = add nsw i64 %"mm_i_i.2", 1
  %".213" = icmp slt i64 %".212", 3
  br i1 %".213", label %"mm_i.2", label %"mm_i_end.2"
mm_j.2:
  %"mm_j_i.2" = phi  i64 [0, %"mm_p.2"], [%".206", %"mm_j.2"]
  %".191" = mul i64 %"mm_p_i.2", 1
  %".192" = mul i64 %"mm_j_i.2", 1
  %".193" = add i64 %".191", %".192"
  %".194" = add i64 0, %".193"
  %".195" = getelementptr inbounds double, ptr %"out4", i64 %".194"
  %".196" = mul i64 %"mm_i_i.2", 1
  %".197" = mul i64 %"mm_j_i.2", 1
  %".198" = add i64 %".196", %".197"
  %".199" = add i64 0, %".198"
  %".200" = getelementptr inbounds double, ptr %".174", i64 %".199"
  %".201" = load double, ptr %".200"
  %".202" = load double, ptr %".195"
  %".203" = fmul double %".189", %".202"
  %".204" = fadd double %".201", %".203"
  store double %".204", ptr %".200"
  %".206" = add nsw i64 %"mm_j_i.2", 1
  %".207" = icmp slt i64 %".206", 1
  br i1 %".207", label %"mm_j.2", label %"mm_j_end.2"
mm_j_end.2:
  %".209" = add nsw i64 %"mm_p_i.2", 1
  %".210" = icmp slt i64 %".209", 1
  br i1 %".210", label %"mm_p.2", label %"mm_p_end.2"
fill.2:
  %"fill_i.2" = phi  i64 [0, %"mm_i_end.2"], [%".220", %"fill.2"]
  %".216" = mul i64 %"fill_i.2", 2
  %".217" = add i64 %".216", 0
  %".218" = getelementptr inbounds double, ptr %"out3", i64 %".217"
  store <2 x double> <double              0x0, double              0x0>, ptr %".218", align 8
  %".220" = add nsw i64 %"fill_i.2", 1
  %".221" = icmp slt i64 %".220", 1
  br i1 %".221", label %"fill.2", label %"fill_end.2"
fill_end.2:
  %".223" = getelementptr inbounds double, ptr %"out3", i64 2
  store double              0x0, ptr %".223"
  br label %"mm_i.3"
mm_i.3:
  %"mm_i_i.3" = phi  i64 [0, %"fill_end.2"], [%".255", %"mm_p_end.3"]
  br label %"mm_p.3"
mm_i_end.3:
  br label %"v.1"
mm_p.3:
  %"mm_p_i.3" = phi  i64 [0, %"mm_i.3"], [%".252", %"mm_j_end.3"]
  %".227" = mul i64 %"mm_i_i.3", 1
  %".228" = mul i64 %"mm_p_i.3", 1
  %".229" = add i64 %".227", %".228"
  %".230" = add i64 0, %".229"
  %".231" = getelementptr inbounds double, ptr %"out4", i64 %".230"
  %".232" = load double, ptr %".231"
  br label %"mm_j.3"
mm_p_end.3:
  %".255" = add nsw i64 %"mm_i_i.3", 1
  %".256" = icmp slt i64 %".255", 1
  br i1 %".256", label %"mm_i.3", label %"mm_i_end.3"
mm_j.3:
  %"mm_j_i.3" = phi  i64 [0, %"mm_p.3"], [%".249", %"mm_j.3"]
  %".234" = mul i64 %"mm_p_i.3", 1
  %".235" = mul i64 %"mm_j_i.3", 1
  %".236" = add i64 %".234", %".235"
  %".237" = add i64 0, %".236"
  %".238" = getelementptr inbounds double, ptr %".79", i64 %".237"
  %".239" = mul i64 %"mm_i_i.3", 3
  %".240" = mul i64 %"mm_j_i.3", 1
  %".241" = add i64 %".239", %".240"
  %".242" = add i64 0, %".241"
  %".243" = getelementptr inbounds double, ptr %"out3", i64 %".242"
  %".244" = load double, ptr %".243"
  %".245" = load double, ptr %".238"
  %".246" = fmul double %".232", %".245"
  %".247" = fadd double %".244", %".246"
  store double %".247", ptr %".243"
  %".249" = add nsw i64 %"mm_j_i.3", 1
  %".250" = icmp slt i64 %".249", 3
  br i1 %".250", label %"mm_j.3", label %"mm_j_end.3"
mm_j_end.3:
  %".252" = add nsw i64 %"mm_p_i.3", 1
  %".253" = icmp slt i64 %".252", 1
  br i1 %".253", label %"mm_p.3", label %"mm_p_end.3"
v.1:
  %"v_i.1" = phi  i64 [0, %"mm_i_end.3"], [%".288", %"v.1"]
  %".259" = add i64 %"v_i.1", 0
  %".260" = mul i64 %".259", 2
  %".261" = add i64 0, %".260"
  %".262" = getelementptr inbounds double, ptr %".174", i64 %".261"
  %".263" = load <2 x double>, ptr %".262", align 8
  %".264" = add i64 0, %".260"
  %".265" = getelementptr inbounds double, ptr %".21", i64 %".264"
  %".266" = load <2 x double>, ptr %".265", align 8
  %".267" = add i64 0, %".260"
  %".268" = getelementptr inbounds double, ptr %"in2", i64 %".267"
  %".269" = load <2 x double>, ptr %".268", align 8
  %".270" = fadd <2 x double> %".266", %".269"
  %".271" = fmul <2 x double> <double 0x4000000000000000, double 0x4000000000000000>, %".270"
  %".272" = call <2 x double> @"llvm.fabs.v2f64"(<2 x double> %".271")
  %".273" = fneg <2 x double> %".272"
  %".274" = extractelement <2 x double> %".273", i32 0
  %".275" = call double @"exp"(double %".274")
  %".276" = insertelement <2 x double> <double undef, double undef>, double %".275", i32 0
  %".277" = extractelement <2 x double> %".273", i32 1
  %".278" = call double @"exp"(double %".277")
  %".279" = insertelement <2 x double> %".276", double %".278", i32 1
  %".280" = fadd <2 x double> <double 0x3ff0000000000000, double 0x3ff0000000000000>, %".279"
  %".281" = fmul <2 x double> %".280", %".280"
  %".282" = fdiv <2 x double> %".279", %".281"
  %".283" = fmul <2 x double> <double 0x4010000000000000, double 0x4010000000000000>, %".282"
  %".284" = fmul <2 x double> %".263", %".283"
  %".285" = add i64 0, %".260"
  %".286" = getelementptr inbounds double, ptr %"out2", i64 %".285"
  store <2 x double> %".284", ptr %".286", align 8
  %".288" = add nsw i64 %"v_i.1", 1
  %".289" = icmp slt i64 %".288", 1
  br i1 %".289", label %"v.1", label %"v_end.1"
v_end.1:
  %".291" = add i64 0, 2
  %".292" = getelementptr inbounds double, ptr %".174", i64 %".291"
  %".293" = call <2 x double> @"llvm.masked.load.v2f64.p0"(ptr %".292", i32 8, <2 x i1> <i1 1, i1 0>, <2 x double> <double 0x3ff0000000000000, double 0x3ff0000000000000>)
  %".294" = add i64 0, 2
  %".295" = getelementptr inbounds double, ptr %".21", i64 %".294"
  %".296" = call <2 x double> @"llvm.masked.load.v2f64.p0"(ptr %".295", i32 8, <2 x i1> <i1 1, i1 0>, <2 x double> <double 0x3ff0000000000000, double 0x3ff0000000000000>)
  %".297" = add i64 0, 2
  %".298" = getelementptr inbounds double, ptr %"in2", i64 %".297"
  %".299" = call <2 x double> @"llvm.masked.load.v2f64.p0"(ptr %".298", i32 8, <2 x i1> <i1 1, i1 0>, <2 x double> <double 0x3ff0000000000000, double 0x3ff0000000000000>)
  %".300" = fadd <2 x double> %".296", %".299"
  %".301" = fmul <2 x double> <double 0x4000000000000000, double 0x4000000000000000>, %".300"
  %".302" = call <2 x double> @"llvm.fabs.v2f64"(<2 x double> %".301")
  %".303" = fneg <2 x double> %".302"
  %".304" = extractelement <2 x double> %".303", i32 0
  %".305" = call double @"exp"(double %".304")
  %".306" = insertelement <2 x double> <double undef, double undef>, double %".305", i32 0
  %".307" = extractelement <2 x double> %".303", i32 1
  %".308" = call double @"exp"(double %".307")
  %".309" = insertelement <2 x double> %".306", double %".308", i32 1
  %".310" = fadd <2 x double> <double 0x3ff0000000000000, double 0x3ff0000000000000>, %".309"
  %".311" = fmul <2 x double> %".310", %".310"
  %".312" = fdiv <2 x double> %".309", %".311"
  %".313" = fmul <2 x double> <double 0x4010000000000000, double 0x4010000000000000>, %".312"
  %".314" = fmul <2 x double> %".293", %".313"
  %".315" = add i64 0, 2
  %".316" = getelementptr inbounds double, ptr %"out2", i64 %".315"
  call void @"llvm.masked.store.v2f64.p0"(<2 x double> %".314", ptr %".316", i32 8, <2 x i1> <i1 1, i1 0>)
  br label %"fill.3"
fill.3:
  %"fill_i.3" = phi  i64 [0, %"v_end.1"], [%".323", %"fill.3"]
  %".319" = mul i64 %"fill_i.3", 2
  %".320" = add i64 %".319", 0
  %".321" = getelementptr inbounds double, ptr %"out1", i64 %".320"
  store <2 x double> <double              0x0, double              0x0>, ptr %".321", align 8
  %".323" = add nsw i64 %"fill_i.3", 1
  %".324" = icmp slt i64 %".323", 3
  br i1 %".324", label %"fill.3", label %"fill_end.3"
fill_end.3:
  br label %"mm_i.4"
mm_i.4:
  %"mm_i_i.4" = phi  i64 [0, %"fill_end.3"], [%".356", %"mm_p_end.4"]
  br label %"mm_p.4"
mm_i_end.4:
  ret void
mm_p.4:
  %"mm_p_i.4" = phi  i64 [0, %"mm_i.4"], [%".353", %"mm_j_end.4"]
  %".328" = mul i64 %"mm_i_i.4", 1
  %".329" = mul i64 %"mm_p_i.4", 1
  %".330" = add i64 %".328", %".329"
  %".331" = add i64 0, %".330"
  %".332" = getelementptr inbounds double, ptr %"out2", i64 %".331"
  %".333" = load double, ptr %".332"
  br label %"mm_j.4"
mm_p_end.4:
  %".356" = add nsw i64 %"mm_i_i.4", 1
  %".357" = icmp slt i64 %".356", 3
  br i1 %".357", label %"mm_i.4", label %"mm_i_end.4"
mm_j.4:
  %"mm_j_i.4" = phi  i64 [0, %"mm_p.4"], [%".350", %"mm_j.4"]
  %".335" = mul i64 %"mm_p_i.4", 1
  %".336" = mul i64 %"mm_j_i.4", 1
  %".337" = add i64 %".335", %".336"
  %".338" = add i64 0, %".337"
  %".339" = getelementptr inbounds double, ptr %"in5", i64 %".338"
  %".340" = mul i64 %"mm_i_i.4", 2
  %".341" = mul i64 %"mm_j_i.4", 1
  %".342" = add i64 %".340", %".341"
  %".343" = add i64 0, %".342"
  %".344" = getelementptr inbounds double, ptr %"out1", i64 %".343"
  %".345" = load double, ptr %".344"
  %".346" = load double, ptr %".339"
  %".347" = fmul double %".333", %".346"
  %".348" = fadd double %".345", %".347"
  store double %".348", ptr %".344"
  %".350" = add nsw i64 %"mm_j_i.4", 1
  %".351" = icmp slt i64 %".350", 2
  br i1 %".351", label %"mm_j.4", label %"mm_j_end.4"
mm_j_end.4:
  %".353" = add nsw i64 %"mm_p_i.4", 1
  %".354" = icmp slt i64 %".353", 1
  br i1 %".354", label %"mm_p.4", label %"mm_p_end.4"
}

declare double @"tanh"(double %".1")

declare <2 x double> @"llvm.masked.load.v2f64.p0"(ptr %".1", i32 %".2", <2 x i1> %".3", <2 x double> %".4")

declare void @"llvm.masked.store.v2f64.p0"(<2 x double> %".1", ptr %".2", i32 %".3", <2 x i1> %".4")

declare <2 x double> @"llvm.fabs.v2f64"(<2 x double> %".1")

declare double @"exp"(double %".1")

