package reports

// texts are the workbook's words, Korean first.
var texts = map[string][2]string{
	// sheets
	"sheet.summary":     {"요약", "Summary"},
	"sheet.daily":       {"일별", "Daily"},
	"sheet.projects":    {"과제", "Projects"},
	"sheet.shares":      {"지분·위반", "Shares & violations"},
	"sheet.idle":        {"유휴 자원", "Idle capacity"},
	"sheet.quality":     {"데이터 품질", "Data quality"},
	"sheet.gpus":        {"GPU 상세", "GPU detail"},
	"sheet.changes":     {"변경 내역", "Changes"},
	"sheet.definitions": {"정의", "Definitions"},
	// headings and columns
	"title":                   {"공공 GPU 사용 보고서", "Public GPU usage report"},
	"month":                   {"대상 월", "Month"},
	"period":                  {"집계 기간", "Period"},
	"provider":                {"사업자", "Provider"},
	"share":                   {"지분", "Share"},
	"government":              {"정부", "Government"},
	"private":                 {"민간", "Private"},
	"total":                   {"합계", "Total"},
	"gpus":                    {"GPU 수", "GPUs"},
	"capacity":                {"용량 (GPU·시간)", "Capacity (GPU-h)"},
	"public_active":           {"공공 사용", "Public active"},
	"public_idle":             {"공공 유휴", "Public idle"},
	"provider_active":         {"사업자 사용", "Provider active"},
	"provider_idle":           {"사업자 유휴", "Provider idle"},
	"unallocated_active":      {"미할당 사용", "Unallocated active"},
	"unallocated_idle":        {"미할당 유휴", "Unallocated idle"},
	"no_data":                 {"데이터 없음", "No data"},
	"utilization":             {"사용률", "Utilization"},
	"idle_pct":                {"유휴율", "Idle share"},
	"coverage":                {"수집률", "Coverage"},
	"borrowed":                {"차용 (GPU·시간)", "Borrowed (GPU-h)"},
	"lent":                    {"대여 (GPU·시간)", "Lent (GPU-h)"},
	"private_used":            {"민간 사용 (GPU·시간)", "Private used (GPU-h)"},
	"peak":                    {"사업자 최대 GPU", "Peak provider GPUs"},
	"charges":                 {"정산액 (원)", "Charges (KRW)"},
	"violations":              {"위반 건수", "Violations"},
	"day":                     {"일자", "Day"},
	"project":                 {"과제 ID", "Project"},
	"project_name":            {"과제명", "Name"},
	"kind":                    {"구분", "Kind"},
	"allocated":               {"할당 (GPU·시간)", "Allocated (GPU-h)"},
	"active":                  {"사용 (GPU·시간)", "Active (GPU-h)"},
	"class":                   {"분류", "Class"},
	"model":                   {"모델", "Model"},
	"gpu_hours":               {"GPU·시간", "GPU-hours"},
	"krw":                     {"금액 (원)", "Amount (KRW)"},
	"rate":                    {"단가 (원/GPU·시간)", "Rate (KRW/GPU-h)"},
	"billed_to":               {"청구 대상", "Billed to"},
	"limit":                   {"한도", "Limit"},
	"usage":                   {"사용량", "Usage"},
	"status":                  {"상태", "Status"},
	"over":                    {"초과", "Over"},
	"ok":                      {"정상", "OK"},
	"no_cap":                  {"한도 없음", "No cap"},
	"private_share_gpus":      {"민간 지분 GPU", "Private share GPUs"},
	"monthly_cap":             {"월 차용 한도 (GPU·시간)", "Monthly borrow cap (GPU-h)"},
	"max_borrow":              {"연속 차용 한도 (시간)", "Max borrow hold (h)"},
	"gpu":                     {"GPU UUID", "GPU UUID"},
	"node":                    {"노드", "Node"},
	"from":                    {"시작", "From"},
	"to":                      {"종료", "To"},
	"flag":                    {"플래그 ID", "Flag ID"},
	"since":                   {"유휴 시작", "Idle since"},
	"hours":                   {"경과 시간", "Hours"},
	"active_pct":              {"사용 비율", "Active share"},
	"recommendation":          {"권고", "Recommendation"},
	"offer":                   {"신청자 제공", "Offer"},
	"reclaim":                 {"회수", "Reclaim"},
	"unregistered":            {"미등록 GPU (샘플은 있으나 자산 목록에 없음)", "Unregistered GPUs (samples but no inventory)"},
	"nodes_without_data":      {"데이터 없는 노드", "Nodes without data"},
	"short_coverage":          {"수집률 미달로 유휴 판정 제외 GPU", "GPUs without idle verdict (coverage short)"},
	"item":                    {"항목", "Item"},
	"value":                   {"값", "Value"},
	"figure":                  {"항목", "Figure"},
	"was":                     {"이전", "Was"},
	"now":                     {"현재", "Now"},
	"none":                    {"없음", "None"},
	"borrow_too_long":         {"연속 차용 초과", "Borrowed too long"},
	"borrow_over_monthly_cap": {"월 차용 한도 초과", "Over monthly borrow cap"},
	"unallocated_use":         {"미할당 사용", "Use without allocation"},
	"public":                  {"공공", "Public"},
	"provider_kind":           {"사업자", "Provider"},
	"chart_daily":             {"일별 사용 GPU·시간 (사업자·지분별)", "Daily active GPU-hours by provider and share"},
}

// definitions explain each figure in plain words, for the definitions sheet.
var definitions = [][3]string{
	{"용량", "Capacity", "자산 목록에서 유효한 GPU의 모든 초. 지분(정부/민간)은 그 시점의 자산 행을 따른다. / Every second a GPU is valid in the inventory, under that row's share."},
	{"수집", "Coverage", "각 샘플은 다음 샘플까지, 최대 max_sample_gap 동안을 대표한다. 어떤 샘플도 대표하지 않는 용량 초는 '데이터 없음'. / A sample stands for the time until the next one, at most max_sample_gap; capacity no sample covers is no_data."},
	{"사용", "Active", "대표하는 샘플의 활동 지표가 threshold_pct 이상인 초. 지표가 없으면 '데이터 없음'. / A covered second whose activity metric is at least threshold_pct; a missing metric is no_data."},
	{"분류", "Classes", "할당(공공 과제/사업자 과제/없음) × 사용/유휴, 그리고 데이터 없음. 일곱 분류의 합은 항상 용량과 같다(초 단위). / Allocation (public/provider/none) × active/idle, plus no_data; the seven always sum to capacity, to the second."},
	{"차용", "Borrowed", "정부 지분 GPU를 사업자 과제가 점유한 시간(사용+유휴). / Provider projects on government GPUs (active + idle)."},
	{"대여", "Lent", "민간 지분 GPU를 공공 과제가 점유한 시간(사용+유휴). / Public projects on private GPUs (active + idle)."},
	{"사업자 최대 GPU", "Peak provider GPUs", "월중 한 시간 동안 사업자 과제가 점유한 GPU·초 / 3600 의 최댓값. / The most GPU-seconds / 3600 the provider's projects held in one hour of the month."},
	{"정산", "Charges", "금액 = 반올림(초 / 3600 × 단가). 차용분은 provider_borrowed 단가. / amount = round_half_up(seconds / 3600 × rate); borrowed time uses the provider_borrowed tariff."},
	{"유휴 플래그", "Idle flags", "미할당 유휴: 최근 unallocated_hours 동안 할당·사용 없음 → 제공. 할당 유휴: 같은 공공 과제가 allocated_hours 동안 점유, 사용 비율 < allocated_max_active_pct → 회수. 수집률 min_coverage_pct 미만이면 판정 제외. / unallocated_idle → offer; allocated_idle → reclaim; GPUs short of coverage get no flag."},
	{"시간 표기", "Hours", "모든 계산은 정수 초로 하고, 표시는 GPU·시간 소수 셋째 자리 반올림. / Everything is computed in whole seconds and shown in GPU-hours rounded half up to 3 decimals."},
}

func (w *workbook) t(key string) string {
	v, ok := texts[key]
	if !ok {
		return key
	}
	if w.lang == "en" {
		return v[1]
	}
	return v[0]
}
