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
  %".18" = getelementptr inbounds ptr, ptr %"inputs", i64 7
  %"sizes" = load ptr, ptr %".18"
  %".19" = getelementptr inbounds i64, ptr %"sizes", i64 0
  %"size_D" = load i64, ptr %".19"
  %".20" = getelementptr inbounds i64, ptr %"sizes", i64 1
  %"size_H" = load i64, ptr %".20"
  %".21" = sdiv i64 %"size_H", 2
  %".22" = srem i64 %"size_H", 2
  %".23" = icmp slt i64 %".22", 0
  %".24" = sub i64 %".21", 1
  %".25" = select  i1 %".23", i64 %".24", i64 %".21"
  %".26" = icmp slt i64 0, %".25"
  %".30" = getelementptr inbounds i8, ptr %"in6", i64 0
  %".36" = mul i64 %".25", 2
  %".98" = mul i64 %"size_H", 8
  %".99" = add i64 %".98", 63
  %".100" = sdiv i64 %".99", 64
  %".101" = srem i64 %".99", 64
  %".102" = icmp slt i64 %".101", 0
  %".103" = sub i64 %".100", 1
  %".104" = select  i1 %".102", i64 %".103", i64 %".100"
  %".105" = mul i64 %".104", 64
  %".106" = getelementptr inbounds i8, ptr %"in6", i64 %".105"
  %".113" = sdiv i64 %"size_H", 2
  %".114" = srem i64 %"size_H", 2
  %".115" = icmp slt i64 %".114", 0
  %".116" = add i64 %".114", 2
  %".117" = select  i1 %".115", i64 %".116", i64 %".114"
  %".118" = insertelement <2 x i64> <i64 undef, i64 undef>, i64 %".117", i32 0
  %".119" = shufflevector <2 x i64> %".118", <2 x i64> <i64 undef, i64 undef>, <2 x i32> <i32 0, i32 0>
  %".120" = icmp slt <2 x i64> <i64 0, i64 1>, %".119"
  %".136" = mul i64 %".104", 128
  %".137" = getelementptr inbounds i8, ptr %"in6", i64 %".136"
  %".212" = mul i64 %".104", 128
  %".213" = add i64 %".212", 64
  %".214" = getelementptr inbounds i8, ptr %"in6", i64 %".213"
  %".374" = mul i64 %"size_D", %"size_H"
  %".375" = sdiv i64 %".374", 2
  %".376" = srem i64 %".374", 2
  %".377" = icmp slt i64 %".376", 0
  %".378" = sub i64 %".375", 1
  %".379" = select  i1 %".377", i64 %".378", i64 %".375"
  %".389" = mul i64 %".379", 2
  br i1 %".26", label %"fill", label %"fill_end"
fill:
  %"fill_i" = phi  i64 [0, %"entry"], [%".33", %"fill"]
  %".28" = mul i64 %"fill_i", 2
  %".29" = add i64 %".28", 0
  %".31" = getelementptr inbounds double, ptr %".30", i64 %".29"
  store <2 x double> <double              0x0, double              0x0>, ptr %".31", align 8
  %".33" = add nsw i64 %"fill_i", 1
  %".34" = icmp slt i64 %".33", %".25"
  br i1 %".34", label %"fill", label %"fill_end"
fill_end:
  %".37" = icmp slt i64 %".36", %"size_H"
  br i1 %".37", label %"fill_tail", label %"fill_tail_end"
fill_tail:
  %"fill_tail_i" = phi  i64 [%".36", %"fill_end"], [%".42", %"fill_tail"]
  %".39" = add i64 %"fill_tail_i", 0
  %".40" = getelementptr inbounds double, ptr %".30", i64 %".39"
  store double              0x0, ptr %".40"
  %".42" = add nsw i64 %"fill_tail_i", 1
  %".43" = icmp slt i64 %".42", %"size_H"
  br i1 %".43", label %"fill_tail", label %"fill_tail_end"
fill_tail_end:
  %".45" = icmp sgt i64 %"size_H", 0
  br i1 %".45", label %"mm_i", label %"mm_i_end"
mm_i:
  %"mm_i_i" = phi  i64 [0, %"fill_tail_end"], [%".77", %"mm_p_end"]
  %".47" = icmp sgt i64 %"size_D", 0
  br i1 %".47", label %"mm_p", label %"mm_p_end"
mm_i_end:
  %".80" = icmp sgt i64 %".25", 0
  br i1 %".80", label %"v", label %"v_end"
mm_p:
  %"mm_p_i" = phi  i64 [0, %"mm_i"], [%".74", %"mm_j_end"]
  %".49" = mul i64 %"mm_i_i", %"size_D"
  %".50" = mul i64 %"mm_p_i", 1
  %".51" = add i64 %".49", %".50"
  %".52" = add i64 0, %".51"
  %".53" = getelementptr inbounds double, ptr %"in0", i64 %".52"
  %".54" = load double, ptr %".53"
  br label %"mm_j"
mm_p_end:
  %".77" = add nsw i64 %"mm_i_i", 1
  %".78" = icmp slt i64 %".77", %"size_H"
  br i1 %".78", label %"mm_i", label %"mm_i_end", !llvm.loop !1
mm_j:
  %"mm_j_i" = phi  i64 [0, %"mm_p"], [%".71", %"mm_j"]
  %".56" = mul i64 %"mm_p_i", 1
  %".57" = mul i64 %"mm_j_i", 1
  %".58" = add i64 %".56", %".57"
  %".59" = add i64 0, %".58"
  %".60" = getelementptr inbounds double, ptr %"in5", i64 %".59"
  %".61" = mul i64 %"mm_i_i", 1
  %".62" = mul i64 %"mm_j_i", 1
  %".63" = add i64 %".61", %".62"
  %".64" = add i64 0, %".63"
  %".65" = getelementptr inbounds double, ptr %".30", i64 %".64"
  %".66" = load double, ptr %".65"
  %".67" = load double, ptr %".60"
  %".68" = fmul double %".54", %".67"
  %".69" = fadd double %".66", %".68"
  store double %".69", ptr %".65"
  %".71" = add nsw i64 %"mm_j_i", 1
  %".72" = icmp slt i64 %".71", 1
  br i1 %".72", label %"mm_j", label %"mm_j_end"
mm_j_end:
  %".74" = add nsw i64 %"mm_p_i", 1
  %".75" = icmp slt i64 %".74", %"size_D"
  br i1 %".75", label %"mm_p", label %"mm_p_end", !llvm.loop !1
v:
  %"v_i" = phi  i64 [0, %"mm_i_end"], [%".109", %"v"]
  %".82" = add i64 %"v_i", 0
  %".83" = mul i64 %".82", 2
  %".84" = add i64 0, %".83"
  %".85" = getelementptr inbounds double, ptr %".30", i64 %".84"
  %".86" = load <2 x double>, ptr %".85", align 8
  %".87" = add i64 0, %".83"
  %".88" = getelementptr inbounds double, ptr %"in2", i64 %".87"
  %".89" = load <2 x double>, ptr %".88", align 8
  %".90" = fadd <2 x double> %".86", %".89"
  %".91" = extractelement <2 x double> %".90", i32 0
  %".92" = call double @"tanh"(double %".91")
  %".93" = insertelement <2 x double> <double undef, double undef>, double %".92", i32 0
  %".94" = extractelement <2 x double> %".90", i32 1
  %".95" = call double @"tanh"(double %".94")
  %".96" = insertelement <2 x double> %".93", double %".95", i32 1
  %".97" = add i64 0, %".83"
  %".107" = getelementptr inbounds double, ptr %".106", i64 %".97"
  store <2 x double> %".96", ptr %".107", align 8
  %".109" = add nsw i64 %"v_i", 1
  %".110" = icmp slt i64 %".109", %".25"
  br i1 %".110", label %"v", label %"v_end", !llvm.loop !1
v_end:
  %".112" = add i64 0, %".36"
  %".121" = getelementptr inbounds double, ptr %".30", i64 %".112"
  %".122" = call <2 x double> @"llvm.masked.load.v2f64.p0"(ptr %".121", i32 8, <2 x i1> %".120", <2 x double> <double 0x3ff0000000000000, double 0x3ff0000000000000>)
  %".123" = add i64 0, %".36"
  %".124" = getelementptr inbounds double, ptr %"in2", i64 %".123"
  %".125" = call <2 x double> @"llvm.masked.load.v2f64.p0"(ptr %".124", i32 8, <2 x i1> %".120", <2 x double> <double 0x3ff0000000000000, double 0x3ff0000000000000>)
  %".126" = fadd <2 x double> %".122", %".125"
  %".127" = extractelement <2 x double> %".126", i32 0
  %".128" = call double @"tanh"(double %".127")
  %".129" = insertelement <2 x double> <double undef, double undef>, double %".128", i32 0
  %".130" = extractelement <2 x double> %".126", i32 1
  %".131" = call double @"tanh"(double %".130")
  %".132" = insertelement <2 x double> %".129", double %".131", i32 1
  %".133" = add i64 0, %".36"
  %".134" = getelementptr inbounds double, ptr %".106", i64 %".133"
  call void @"llvm.masked.store.v2f64.p0"(<2 x double> %".132", ptr %".134", i32 8, <2 x i1> %".120")
  %".138" = getelementptr inbounds double, ptr %".137", i64 0
  store double              0x0, ptr %".138"
  br label %"mm_i.1"
mm_i.1:
  %"mm_i_i.1" = phi  i64 [0, %"v_end"], [%".171", %"mm_p_end.1"]
  %".141" = icmp sgt i64 %"size_H", 0
  br i1 %".141", label %"mm_p.1", label %"mm_p_end.1"
mm_i_end.1:
  %".174" = getelementptr inbounds double, ptr %"out0", i64 0
  store double              0x0, ptr %".174"
  %".176" = getelementptr inbounds double, ptr %".137", i64 0
  %".177" = load double, ptr %".176"
  %".178" = insertelement <2 x double> <double undef, double undef>, double %".177", i32 0
  %".179" = shufflevector <2 x double> %".178", <2 x double> <double undef, double undef>, <2 x i32> <i32 0, i32 0>
  %".180" = getelementptr inbounds double, ptr %"in3", i64 0
  %".181" = load double, ptr %".180"
  %".182" = insertelement <2 x double> <double undef, double undef>, double %".181", i32 0
  %".183" = shufflevector <2 x double> %".182", <2 x double> <double undef, double undef>, <2 x i32> <i32 0, i32 0>
  %".184" = getelementptr inbounds double, ptr %"in4", i64 0
  %".185" = load double, ptr %".184"
  %".186" = insertelement <2 x double> <double undef, double undef>, double %".185", i32 0
  %".187" = shufflevector <2 x double> %".186", <2 x double> <double undef, double undef>, <2 x i32> <i32 0, i32 0>
  %".188" = fadd <2 x double> %".179", %".183"
  %".189" = fsub <2 x double> %".188", %".187"
  %".190" = fmul <2 x double> %".189", %".189"
  %".191" = fmul <2 x double> <double 0x4000000000000000, double 0x4000000000000000>, %".189"
  %".192" = fmul <2 x double> <double 0x3ff0000000000000, double 0x3ff0000000000000>, %".191"
  %".193" = select  <2 x i1> <i1 1, i1 0>, <2 x double> %".190", <2 x double> <double              0x0, double              0x0>
  %".194" = fadd <2 x double> <double              0x0, double              0x0>, %".193"
  %".195" = mul i64 0, 0
  %".196" = add i64 0, %".195"
  %".197" = add i64 %".196", 0
  %".198" = getelementptr inbounds double, ptr %"out4", i64 %".197"
  %".199" = extractelement <2 x double> %".192", i32 0
  store double %".199", ptr %".198"
  %".201" = extractelement <2 x double> %".194", i32 0
  %".202" = extractelement <2 x double> %".194", i32 1
  %".203" = fadd double %".201", %".202"
  %".204" = getelementptr inbounds double, ptr %"out0", i64 0
  %".205" = load double, ptr %".204"
  %".206" = fadd double %".205", %".203"
  store double %".206", ptr %".204"
  %".208" = icmp slt i64 0, %".25"
  br i1 %".208", label %"fill.1", label %"fill_end.1"
mm_p.1:
  %"mm_p_i.1" = phi  i64 [0, %"mm_i.1"], [%".168", %"mm_j_end.1"]
  %".143" = mul i64 %"mm_i_i.1", %"size_H"
  %".144" = mul i64 %"mm_p_i.1", 1
  %".145" = add i64 %".143", %".144"
  %".146" = add i64 0, %".145"
  %".147" = getelementptr inbounds double, ptr %"in1", i64 %".146"
  %".148" = load double, ptr %".147"
  br label %"mm_j.1"
mm_p_end.1:
  %".171" = add nsw i64 %"mm_i_i.1", 1
  %".172" = icmp slt i64 %".171", 1
  br i1 %".172", label %"mm_i.1", label %"mm_i_end.1"
mm_j.1:
  %"mm_j_i.1" = phi  i64 [0, %"mm_p.1"], [%".165", %"mm_j.1"]
  %".150" = mul i64 %"mm_p_i.1", 1
  %".151" = mul i64 %"mm_j_i.1", 1
  %".152" = add i64 %".150", %".151"
  %".153" = add i64 0, %".152"
  %".154" = getelementptr inbounds double, ptr %".106", i64 %".153"
  %".155" = mul i64 %"mm_i_i.1", 1
  %".156" = mul i64 %"mm_j_i.1", 1
  %".157" = add i64 %".155", %".156"
  %".158" = add i64 0, %".157"
  %".159" = getelementptr inbounds double, ptr %".137", i64 %".158"
  %".160" = load double, ptr %".159"
  %".161" = load double, ptr %".154"
  %".162" = fmul double %".148", %".161"
  %".163" = fadd double %".160", %".162"
  store double %".163", ptr %".159"
  %".165" = add nsw i64 %"mm_j_i.1", 1
  %".166" = icmp slt i64 %".165", 1
  br i1 %".166", label %"mm_j.1", label %"mm_j_end.1"
mm_j_end.1:
  %".168" = add nsw i64 %"mm_p_i.1", 1
  %".169" = icmp slt i64 %".168", %"size_H"
  br i1 %".169", label %"mm_p.1", label %"mm_p_end.1", !llvm.loop !1
fill.1:
  %"fill_i.1" = phi  i64 [0, %"mm_i_end.1"], [%".217", %"fill.1"]
  %".210" = mul i64 %"fill_i.1", 2
  %".211" = add i64 %".210", 0
  %".215" = getelementptr inbounds double, ptr %".214", i64 %".211"
  store <2 x double> <double              0x0, double              0x0>, ptr %".215", align 8
  %".217" = add nsw i64 %"fill_i.1", 1
  %".218" = icmp slt i64 %".217", %".25"
  br i1 %".218", label %"fill.1", label %"fill_end.1"
fill_end.1:
  %".220" = icmp slt i64 %".36", %"size_H"
  br i1 %".220", label %"fill_tail.1", label %"fill_tail_end.1"
fill_tail.1:
  %"fill_tail_i.1" = phi  i64 [%".36", %"fill_end.1"], [%".225", %"fill_tail.1"]
  %".222" = add i64 %"fill_tail_i.1", 0
  %".223" = getelementptr inbounds double, ptr %".214", i64 %".222"
  store double              0x0, ptr %".223"
  %".225" = add nsw i64 %"fill_tail_i.1", 1
  %".226" = icmp slt i64 %".225", %"size_H"
  br i1 %".226", label %"fill_tail.1", label %"fill_tail_end.1"
fill_tail_end.1:
  %".228" = icmp sgt i64 %"size_H", 0
  br i1 %".228", label %"mm_i.2", label %"mm_i_end.2"
mm_i.2:
  %"mm_i_i.2" = phi  i64 [0, %"fill_tail_end.1"], [%".259", %"mm_p_end.2"]
  br label %"mm_p.2"
mm_i_end.2:
  %".262" = icmp slt i64 0, %".25"
  br i1 %".262", label %"fill.2", label %"fill_end.2"
mm_p.2:
  %"mm_p_i.2" = phi  i64 [0, %"mm_i.2"], [%".256", %"mm_j_end.2"]
  %".231" = mul i64 %"mm_i_i.2", 1
  %".232" = mul i64 %"mm_p_i.2", %"size_H"
  %".233" = add i64 %".231", %".232"
  %".234" = add i64 0, %".233"
  %".235" = getelementptr inbounds double, ptr %"in1", i64 %".234"
  %".236" = load double, ptr %".235"
  br label %"mm_j.2"
mm_p_end.2:
  %".259" = add nsw i64 %"mm_i_i.2", 1
  %".260" = icmp slt i64 %".259", %"size_H"
  br i1 %".260", label %"mm_i.2", label %"mm_i_end.2", !llvm.loop !1
mm_j.2:
  %"mm_j_i.2" = phi  i64 [0, %"mm_p.2"], [%".253", %"mm_j.2"]
  %".238" = mul i64 %"mm_p_i.2", 1
  %".239" = mul i64 %"mm_j_i.2", 1
  %".240" = add i64 %".238", %".239"
  %".241" = add i64 0, %".240"
  %".242" = getelementptr inbounds double, ptr %"out4", i64 %".241"
  %".243" = mul i64 %"mm_i_i.2", 1
  %".244" = mul i64 %"mm_j_i.2", 1
  %".245" = add i64 %".243", %".244"
  %".246" = add i64 0, %".245"
  %".247" = getelementptr inbounds double, ptr %".214", i64 %".246"
  %".248" = load double, ptr %".247"
  %".249" = load double, ptr %".242"
  %".250" = fmul double %".236", %".249"
  %".251" = fadd double %".248", %".250"
  store double %".251", ptr %".247"
  %".253" = add nsw i64 %"mm_j_i.2", 1
  %".254" = icmp slt i64 %".253", 1
  br i1 %".254", label %"mm_j.2", label %"mm_j_end.2"
mm_j_end.2:
  %".256" = add nsw i64 %"mm_p_i.2", 1
  %".257" = icmp slt i64 %".256", 1
  br i1 %".257", label %"mm_p.2", label %"mm_p_end.2"
fill.2:
  %"fill_i.2" = phi  i64 [0, %"mm_i_end.2"], [%".268", %"fill.2"]
  %".264" = mul i64 %"fill_i.2", 2
  %".265" = add i64 %".264", 0
  %".266" = getelementptr inbounds double, ptr %"out3", i64 %".265"
  store <2 x double> <double              0x0, double              0x0>, ptr %".266", align 8
  %".268" = add nsw i64 %"fill_i.2", 1
  %".269" = icmp slt i64 %".268", %".25"
  br i1 %".269", label %"fill.2", label %"fill_end.2"
fill_end.2:
  %".271" = icmp slt i64 %".36", %"size_H"
  br i1 %".271", label %"fill_tail.2", label %"fill_tail_end.2"
fill_tail.2:
  %"fill_tail_i.2" = phi  i64 [%".36", %"fill_end.2"], [%".276", %"fill_tail.2"]
  %".273" = add i64 %"fill_tail_i.2", 0
  %".274" = getelementptr inbounds double, ptr %"out3", i64 %".273"
  store double              0x0, ptr %".274"
  %".276" = add nsw i64 %"fill_tail_i.2", 1
  %".277" = icmp slt i64 %".276", %"size_H"
  br i1 %".277", label %"fill_tail.2", label %"fill_tail_end.2"
fill_tail_end.2:
  br label %"mm_i.3"
mm_i.3:
  %"mm_i_i.3" = phi  i64 [0, %"fill_tail_end.2"], [%".310", %"mm_p_end.3"]
  br label %"mm_p.3"
mm_i_end.3:
  %".313" = icmp sgt i64 %".25", 0
  br i1 %".313", label %"v.1", label %"v_end.1"
mm_p.3:
  %"mm_p_i.3" = phi  i64 [0, %"mm_i.3"], [%".307", %"mm_j_end.3"]
  %".281" = mul i64 %"mm_i_i.3", 1
  %".282" = mul i64 %"mm_p_i.3", 1
  %".283" = add i64 %".281", %".282"
  %".284" = add i64 0, %".283"
  %".285" = getelementptr inbounds double, ptr %"out4", i64 %".284"
  %".286" = load double, ptr %".285"
  %".287" = icmp sgt i64 %"size_H", 0
  br i1 %".287", label %"mm_j.3", label %"mm_j_end.3"
mm_p_end.3:
  %".310" = add nsw i64 %"mm_i_i.3", 1
  %".311" = icmp slt i64 %".310", 1
  br i1 %".311", label %"mm_i.3", label %"mm_i_end.3"
mm_j.3:
  %"mm_j_i.3" = phi  i64 [0, %"mm_p.3"], [%".304", %"mm_j.3"]
  %".289" = mul i64 %"mm_p_i.3", 1
  %".290" = mul i64 %"mm_j_i.3", 1
  %".291" = add i64 %".289", %".290"
  %".292" = add i64 0, %".291"
  %".293" = getelementptr inbounds double, ptr %".106", i64 %".292"
  %".294" = mul i64 %"mm_i_i.3", %"size_H"
  %".295" = mul i64 %"mm_j_i.3", 1
  %".296" = add i64 %".294", %".295"
  %".297" = add i64 0, %".296"
  %".298" = getelementptr inbounds double, ptr %"out3", i64 %".297"
  %".299" = load double, ptr %".298"
  %".300" = load double, ptr %".293"
  %".301" = fmul double %".286", %".300"
  %".302" = fadd double %".299", %".301"
  store double %".302", ptr %".298"
  %".304" = add nsw i64 %"mm_j_i.3", 1
  %".305" = icmp slt i64 %".304", %"size_H"
  br i1 %".305", label %"mm_j.3", label %"mm_j_end.3", !llvm.loop !1
mm_j_end.3:
  %".307" = add nsw i64 %"mm_p_i.3", 1
  %".308" = icmp slt i64 %".307", 1
  br i1 %".308", label %"mm_p.3", label %"mm_p_end.3"
v.1:
  %"v_i.1" = phi  i64 [0, %"mm_i_end.3"], [%".344", %"v.1"]
  %".315" = add i64 %"v_i.1", 0
  %".316" = mul i64 %".315", 2
  %".317" = add i64 0, %".316"
  %".318" = getelementptr inbounds double, ptr %".214", i64 %".317"
  %".319" = load <2 x double>, ptr %".318", align 8
  %".320" = add i64 0, %".316"
  %".321" = getelementptr inbounds double, ptr %".30", i64 %".320"
  %".322" = load <2 x double>, ptr %".321", align 8
  %".323" = add i64 0, %".316"
  %".324" = getelementptr inbounds double, ptr %"in2", i64 %".323"
  %".325" = load <2 x double>, ptr %".324", align 8
  %".326" = fadd <2 x double> %".322", %".325"
  %".327" = fmul <2 x double> <double 0x4000000000000000, double 0x4000000000000000>, %".326"
  %".328" = call <2 x double> @"llvm.fabs.v2f64"(<2 x double> %".327")
  %".329" = fneg <2 x double> %".328"
  %".330" = extractelement <2 x double> %".329", i32 0
  %".331" = call double @"exp"(double %".330")
  %".332" = insertelement <2 x double> <double undef, double undef>, double %".331", i32 0
  %".333" = extractelement <2 x double> %".329", i32 1
  %".334" = call double @"exp"(double %".333")
  %".335" = insertelement <2 x double> %".332", double %".334", i32 1
  %".336" = fadd <2 x double> <double 0x3ff0000000000000, double 0x3ff0000000000000>, %".335"
  %".337" = fmul <2 x double> %".336", %".336"
  %".338" = fdiv <2 x double> %".335", %".337"
  %".339" = fmul <2 x double> <double 0x4010000000000000, double 0x4010000000000000>, %".338"
  %".340" = fmul <2 x double> %".319", %".339"
  %".341" = add i64 0, %".316"
  %".342" = getelementptr inbounds double, ptr %"out2", i64 %".341"
  store <2 x double> %".340", ptr %".342", align 8
  %".344" = add nsw i64 %"v_i.1", 1
  %".345" = icmp slt i64 %".344", %".25"
  br i1 %".345", label %"v.1", label %"v_end.1", !llvm.loop !1
v_end.1:
  %".347" = add i64 0, %".36"
  %".348" = getelementptr inbounds double, ptr %".214", i64 %".347"
  %".349" = call <2 x double> @"llvm.masked.load.v2f64.p0"(ptr %".348", i32 8, <2 x i1> %".120", <2 x double> <double 0x3ff0000000000000, double 0x3ff0000000000000>)
  %".350" = add i64 0, %".36"
  %".351" = getelementptr inbounds double, ptr %".30", i64 %".350"
  %".352" = call <2 x double> @"llvm.masked.load.v2f64.p0"(ptr %".351", i32 8, <2 x i1> %".120", <2 x double> <double 0x3ff0000000000000, double 0x3ff0000000000000>)
  %".353" = add i64 0, %".36"
  %".354" = getelementptr inbounds double, ptr %"in2", i64 %".353"
  %".355" = call <2 x double> @"llvm.masked.load.v2f64.p0"(ptr %".354", i32 8, <2 x i1> %".120", <2 x double> <double 0x3ff0000000000000, double 0x3ff0000000000000>)
  %".356" = fadd <2 x double> %".352", %".355"
  %".357" = fmul <2 x double> <double 0x4000000000000000, double 0x4000000000000000>, %".356"
  %".358" = call <2 x double> @"llvm.fabs.v2f64"(<2 x double> %".357")
  %".359" = fneg <2 x double> %".358"
  %".360" = extractelement <2 x double> %".359", i32 0
  %".361" = call double @"exp"(double %".360")
  %".362" = insertelement <2 x double> <double undef, double undef>, double %".361", i32 0
  %".363" = extractelement <2 x double> %".359", i32 1
  %".364" = call double @"exp"(double %".363")
  %".365" = insertelement <2 x double> %".362", double %".364", i32 1
  %".366" = fadd <2 x double> <double 0x3ff0000000000000, double 0x3ff0000000000000>, %".365"
  %".367" = fmul <2 x double> %".366", %".366"
  %".368" = fdiv <2 x double> %".365", %".367"
  %".369" = fmul <2 x double> <double 0x4010000000000000, double 0x4010000000000000>, %".368"
  %".370" = fmul <2 x double> %".349", %".369"
  %".371" = add i64 0, %".36"
  %".372" = getelementptr inbounds double, ptr %"out2", i64 %".371"
  call void @"llvm.masked.store.v2f64.p0"(<2 x double> %".370", ptr %".372", i32 8, <2 x i1> %".120")
  %".380" = icmp slt i64 0, %".379"
  br i1 %".380", label %"fill.3", label %"fill_end.3"
fill.3:
  %"fill_i.3" = phi  i64 [0, %"v_end.1"], [%".386", %"fill.3"]
  %".382" = mul i64 %"fill_i.3", 2
  %".383" = add i64 %".382", 0
  %".384" = getelementptr inbounds double, ptr %"out1", i64 %".383"
  store <2 x double> <double              0x0, double              0x0>, ptr %".384", align 8
  %".386" = add nsw i64 %"fill_i.3", 1
  %".387" = icmp slt i64 %".386", %".379"
  br i1 %".387", label %"fill.3", label %"fill_end.3"
fill_end.3:
  %".390" = icmp slt i64 %".389", %".374"
  br i1 %".390", label %"fill_tail.3", label %"fill_tail_end.3"
fill_tail.3:
  %"fill_tail_i.3" = phi  i64 [%".389", %"fill_end.3"], [%".395", %"fill_tail.3"]
  %".392" = add i64 %"fill_tail_i.3", 0
  %".393" = getelementptr inbounds double, ptr %"out1", i64 %".392"
  store double              0x0, ptr %".393"
  %".395" = add nsw i64 %"fill_tail_i.3", 1
  %".396" = icmp slt i64 %".395", %".374"
  br i1 %".396", label %"fill_tail.3", label %"fill_tail_end.3"
fill_tail_end.3:
  %".398" = icmp sgt i64 %"size_H", 0
  br i1 %".398", label %"mm_i.4", label %"mm_i_end.4"
mm_i.4:
  %"mm_i_i.4" = phi  i64 [0, %"fill_tail_end.3"], [%".430", %"mm_p_end.4"]
  br label %"mm_p.4"
mm_i_end.4:
  ret void
mm_p.4:
  %"mm_p_i.4" = phi  i64 [0, %"mm_i.4"], [%".427", %"mm_j_end.4"]
  %".401" = mul i64 %"mm_i_i.4", 1
  %".402" = mul i64 %"mm_p_i.4", 1
  %".403" = add i64 %".401", %".402"
  %".404" = add i64 0, %".403"
  %".405" = getelementptr inbounds double, ptr %"out2", i64 %".404"
  %".406" = load double, ptr %".405"
  %".407" = icmp sgt i64 %"size_D", 0
  br i1 %".407", label %"mm_j.4", label %"mm_j_end.4"
mm_p_end.4:
  %".430" = add nsw i64 %"mm_i_i.4", 1
  %".431" = icmp slt i64 %".430", %"size_H"
  br i1 %".431", label %"mm_i.4", label %"mm_i_end.4", !llvm.loop !1
mm_j.4:
  %"mm_j_i.4" = phi  i64 [0, %"mm_p.4"], [%".424", %"mm_j.4"]
  %".409" = mul i64 %"mm_p_i.4", 1
  %".410" = mul i64 %"mm_j_i.4", 1
  %".411" = add i64 %".409", %".410"
  %".412" = add i64 0, %".411"
  %".413" = getelementptr inbounds double, ptr %"in5", i64 %".412"
  %".414" = mul i64 %"mm_i_i.4", %"size_D"
  %".415" = mul i64 %"mm_j_i.4", 1
  %".416" = add i64 %".414", %".415"
  %".417" = add i64 0, %".416"
  %".418" = getelementptr inbounds double, ptr %"out1", i64 %".417"
  %".419" = load double, ptr %".418"
  %".420" = load double, ptr %".413"
  %".421" = fmul double %".406", %".420"
  %".422" = fadd double %".419", %".421"
  store double %".422", ptr %".418"
  %".424" = add nsw i64 %"mm_j_i.4", 1
  %".425" = icmp slt i64 %".424", %"size_D"
  br i1 %".425", label %"mm_j.4", label %"mm_j_end.4", !llvm.loop !1
mm_j_end.4:
  %".427" = add nsw i64 %"mm_p_i.4", 1
  %".428" = icmp slt i64 %".427", 1
  br i1 %".428", label %"mm_p.4", label %"mm_p_end.4"
}

declare double @"tanh"(double %".1")

declare <2 x double> @"llvm.masked.load.v2f64.p0"(ptr %".1", i32 %".2", <2 x i1> %".3", <2 x double> %".4")

declare void @"llvm.masked.store.v2f64.p0"(<2 x double> %".1", ptr %".2", i32 %".3", <2 x i1> %".4")

declare <2 x double> @"llvm.fabs.v2f64"(<2 x double> %".1")

declare double @"exp"(double %".1")

!0 = !{ !"llvm.loop.unroll.disable" }
!1 = !{ !1, !0 }
